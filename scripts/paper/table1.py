#!/usr/bin/env python
"""Table 1: FID and PSNR, mid / long range, per dataset, methods as rows (from evaluation folders).

    python scripts/paper/table1.py --runs <eval dir> [<eval dir> ...] --out outputs/paper
"""

from __future__ import annotations

import sys

from runs_table import main

if __name__ == "__main__":
    main(["--name", "table1", *sys.argv[1:]])
