#!/usr/bin/env python
"""The Gradio demo (thin entry point; see genwarp/inference/demo_cli.py and app.py).

    python scripts/demo.py --release-dir checkpoints --variant multi1
    python scripts/demo.py --help
"""

import sys

from genwarp.inference.demo_cli import main

if __name__ == "__main__":
    sys.exit(main())
