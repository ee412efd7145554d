#!/usr/bin/env python
"""Photos → novel views along a camera path (thin entry point; see genwarp/inference/cli.py).

    python scripts/infer.py --image photo.jpg --release-dir checkpoints --variant multi1 --path orbit
    python scripts/infer.py --help
"""

import sys

from genwarp.inference.cli import main

if __name__ == "__main__":
    sys.exit(main())
