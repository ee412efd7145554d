#!/usr/bin/env python
"""Table 2: the embedding ablation: FID (mid / long) of the ablation_embed_* checkpoints, one row per
condition kind (read from each run's method.json).

    python scripts/paper/table2.py --runs <eval dir of each ablation checkpoint> --out outputs/paper
"""

from __future__ import annotations

import sys

from runs_table import main

if __name__ == "__main__":
    main(["--name", "table2", "--row-by", "condition_kind", "--metrics", "fid", "psnr", *sys.argv[1:]])
