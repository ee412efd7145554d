#!/usr/bin/env python
"""Extract RealEstate10K / ACID frames from locally available videos (the raw layout).

    python scripts/prepare_re10k.py --root RE10K --split test --videos VIDEOS \
        [--frames-root RE10K/frames] [--match auto|timestamp|order] [--ext jpg|png] \
        [--max-side 640] [--sequences ID ...] [--report report.json] [--backend auto|av|opencv]

For every ``<root>/<split>/<sequence>.txt`` the video ``<videos>/<sequence>.mp4`` (or
``<youtube id>.mp4``/.mkv/.webm) is decoded and the listed frames are written to
``<frames_root>/<split>/<sequence>/<timestamp>.<ext>``. Resumable (existing frames are skipped).
Rows with a non-finite value or a repeated timestamp are not extracted (the loaders drop the same
rows) and are counted; a camera file without its URL line is counted too (its first row is kept).
Prints a summary of missing videos and frames and writes the full report as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tqdm import tqdm

from genwarp.data.prepare import extract_sequence_frames


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", required=True, type=Path, help="dataset root holding <split>/<sequence>.txt")
    p.add_argument("--split", default="test")
    p.add_argument("--videos", required=True, type=Path, help="folder with the downloaded videos")
    p.add_argument("--frames-root", type=Path, default=None, help="default: <root>/frames")
    p.add_argument("--match", default="auto", choices=["auto", "timestamp", "order"])
    p.add_argument("--ext", default="jpg", choices=["jpg", "png"])
    p.add_argument("--max-side", type=int, default=None, help="downscale frames so the longer side is at most this")
    p.add_argument("--quality", type=int, default=95, help="JPEG quality")
    p.add_argument("--sequences", nargs="*", default=None, help="only these sequence ids")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--backend", default="auto", choices=["auto", "av", "opencv"], help="video decoder (auto: PyAV if installed)")
    p.add_argument("--report", type=Path, default=None, help="JSON report (default: <frames_root>/<split>/prepare_report.json)")
    args = p.parse_args(argv)

    split_dir = args.root / args.split
    if not split_dir.is_dir():
        print(f"error: {split_dir} does not exist (expected <root>/<split>/<sequence>.txt camera files)", file=sys.stderr)
        return 2
    if not args.videos.is_dir():
        print(f"error: videos folder {args.videos} does not exist", file=sys.stderr)
        return 2
    cams = sorted(split_dir.glob("*.txt"))
    if args.sequences:
        wanted = set(args.sequences)
        cams = [c for c in cams if c.stem in wanted]
    if not cams:
        print(f"error: no camera files selected in {split_dir}", file=sys.stderr)
        return 2
    frames_root = args.frames_root or args.root / "frames"
    reports = []
    bar = tqdm(cams, desc=f"extract {args.split}", unit="seq")
    for cam in bar:
        rep = extract_sequence_frames(cam, args.videos, frames_root / args.split / cam.stem, match=args.match, ext=args.ext,
                                      max_side=args.max_side, quality=args.quality, overwrite=args.overwrite,
                                      backend=args.backend)
        reports.append(rep.to_dict())
        bar.set_postfix(missing_videos=sum(r["status"] == "missing_video" for r in reports))
    summary = {
        "sequences": len(reports),
        "ok": sum(r["status"] == "ok" for r in reports),
        "missing_videos": sum(r["status"] == "missing_video" for r in reports),
        "unreadable_videos": sum(r["status"] == "unreadable_video" for r in reports),
        "corrupt_camera_files": sum(r["status"] == "corrupt_camera_file" for r in reports),
        "frames_listed": sum(r["listed"] for r in reports),
        "frames_written": sum(r["written"] for r in reports),
        "frames_already_present": sum(r["skipped_existing"] for r in reports),
        "frames_missing": sum(len(r["missing_frames"]) for r in reports if r["status"] != "missing_video"),
        # camera-file rows not extracted (the loaders drop the same rows) and files without a URL line
        "rows_invalid_pose": sum(r["dropped_rows"].get("invalid_pose", 0) for r in reports),
        "rows_duplicate_timestamp": sum(r["dropped_rows"].get("duplicate_timestamp", 0) for r in reports),
        "camera_files_without_url": sum(bool(r["url_missing"]) for r in reports),
    }
    report_path = args.report or frames_root / args.split / "prepare_report.json"
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text(json.dumps({"summary": summary, "sequences": reports}, indent=1))
    for k, v in summary.items():
        print(f"{k:>24}: {v}")
    print(f"report: {report_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
