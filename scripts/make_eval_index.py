#!/usr/bin/env python
"""Build a frozen evaluation index (mid-range / long-range pairs) for a dataset.

    python scripts/make_eval_index.py --dataset synthetic --out data/eval_index_synthetic_test.json
    python scripts/make_eval_index.py --dataset re10k --root RE10K --split test --out data/eval_index_re10k_test.json
    python scripts/make_eval_index.py --dataset scannet --root SCANNET --scene-list scannetv2_test.txt \
        --out data/eval_index_scannet_test.json [--mid 30 60 --long 90 180] [--pairs-per-scene 2]

Import a peer's frozen RealEstate10K / ACID pairs (genwarp/data/peer_index.py):

    python scripts/make_eval_index.py --from-geogpt realestate_custom_frames.txt --out data/eval_index_re10k_geogpt.json \
        [--root RE10K --split test [--layout raw|chunks] [--frames-root FRAMES]]
    python scripts/make_eval_index.py --from-pixelsplat evaluation_index_re10k.json --out data/eval_index_re10k_pixelsplat.json \
        [--dataset acid] [--root ...]

Export one of our indices for a peer's own test script (then score its images with
scripts/evaluate.py stage=score predictions=<dir>; README "Evaluation"):

    python scripts/make_eval_index.py --export-geogpt data/eval_index_re10k_test.json --out frames.txt [--root RE10K --split test]
    python scripts/make_eval_index.py --export-pixelsplat data/eval_index_re10k_test.json --out evaluation_index_re10k.json
    python scripts/make_eval_index.py --export-photonvs data/eval_index_re10k_test.json --out photonvs/ --root RE10K [--split test]
    # ... run Photometric-NVS's src/scripts/sample-trajectory.py -o <abs path of each folder>, then:
    python scripts/make_eval_index.py --import-photonvs-outputs photonvs/ --out photonvs_predictions/

Pairs a format cannot carry are counted on stdout and not written (genwarp/data/peer_index.py).

With --root, GeoGPT's timestamps become camera-file rows (raw layout: only the camera files are
needed; chunks: the chunks' timestamps) and the pairs the frames on disk can serve are counted
into the index ("availability"); without it the index keeps timestamps, resolved at evaluation.

Deterministic for a given seed, rule and set of available frames. The rule (frame-gap windows for
"mid" and "long", see genwarp/data/eval_index.py) is recorded inside the JSON. Defaults per
dataset: genwarp.data.DEFAULT_RULES.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", choices=["re10k", "acid", "scannet", "synthetic"],
                   help="dataset to index (required unless importing; imports default to re10k)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--from-geogpt", type=Path, metavar="FRAMES_TXT",
                     help="import GeoGPT's realestate_custom_frames.txt (seq,a.png,b.png,c.png per line)")
    src.add_argument("--from-pixelsplat", type=Path, metavar="INDEX_JSON",
                     help="import a pixelSplat/MVSplat evaluation_index_<dataset>.json")
    src.add_argument("--export-geogpt", type=Path, metavar="OUR_INDEX",
                     help="write our index as GeoGPT's frames file (seq,a.png,b.png,c.png); --root: rows -> timestamps")
    src.add_argument("--export-pixelsplat", type=Path, metavar="OUR_INDEX",
                     help="write our index as a pixelSplat/MVSplat evaluation index JSON")
    src.add_argument("--export-photonvs", type=Path, metavar="OUR_INDEX",
                     help="write our index as Photometric-NVS sampling folders (sampling-spec.json, init-ims/0000.png, "
                          "samples/) under --out, one per source frame; needs --root (cameras and source frames)")
    src.add_argument("--import-photonvs-outputs", type=Path, metavar="EXPORT_DIR",
                     help="copy Photometric-NVS's samples/00000000/images/<k>.png of an --export-photonvs folder to "
                          "--out/<pair id>.png (for scripts/evaluate.py stage=score predictions=...)")
    p.add_argument("--root", type=Path, help="dataset root (imports: optional, resolves timestamps and counts usable pairs)")
    p.add_argument("--split", default="test")
    p.add_argument("--layout", default="raw", choices=["raw", "chunks"])
    p.add_argument("--frames-root", type=Path, default=None)
    p.add_argument("--scene-list", type=Path, default=None, help="ScanNet: file with one scene per line")
    p.add_argument("--num-test-scenes", type=int, default=64, help="synthetic: number of test scenes")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--pairs-per-scene", type=int, default=None, help="pairs per scene and range (default: the rule's)")
    p.add_argument("--mid", type=int, nargs=2, default=None, metavar=("MIN", "MAX"))
    p.add_argument("--long", type=int, nargs=2, default=None, metavar=("MIN", "MAX"))
    p.add_argument("--out", required=True, type=Path)
    args = p.parse_args(argv)

    if args.from_geogpt or args.from_pixelsplat:
        return import_peer_index(p, args)
    if args.export_geogpt or args.export_pixelsplat:
        return export_peer_index(p, args)
    if args.export_photonvs or args.import_photonvs_outputs:
        return photonvs(p, args)
    if args.dataset is None:
        p.error("--dataset is required (or import with --from-geogpt / --from-pixelsplat)")

    from genwarp.data import DEFAULT_RULES, FrameGapRule, RealEstate10KDataset, ScanNetDataset, SyntheticScenesDataset
    from genwarp.data.eval_index import build_eval_index, save_eval_index

    if args.dataset == "synthetic":
        ds = SyntheticScenesDataset("test", 64, num_test_scenes=args.num_test_scenes, shuffle=False)
    elif args.root is None:
        p.error("--root is required for this dataset")
    elif args.dataset in ("re10k", "acid"):
        ds = RealEstate10KDataset(args.root, args.split, layout=args.layout, frames_root=args.frames_root, name=args.dataset, shuffle=False)
    else:
        ds = ScanNetDataset(args.root, scenes=args.scene_list, shuffle=False)
    rule = DEFAULT_RULES[args.dataset]
    if args.mid or args.long:
        ranges = dict(rule.ranges)
        if args.mid:
            ranges["mid"] = tuple(args.mid)
        if args.long:
            ranges["long"] = tuple(args.long)
        desc = ", ".join(f"{k} {lo}-{hi} frames" for k, (lo, hi) in ranges.items())
        rule = FrameGapRule(ranges, rule.both_directions, rule.pairs_per_scene, f"custom: {desc}")
    if args.pairs_per_scene:
        rule = rule.with_pairs_per_scene(args.pairs_per_scene)
    index = build_eval_index(ds, rule, seed=args.seed, split=args.split if args.dataset != "synthetic" else "test",
                             extra={"created_by": "scripts/make_eval_index.py"})
    save_eval_index(index, args.out)
    print(f"{args.out}: {index['num_entries']} pairs over {index['num_scenes']} scenes {index['counts']}")
    if index["skipped_scenes"]:
        print(f"skipped scenes: {index['skipped_scenes']}")
    return 0


def import_peer_index(p: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from genwarp.data import RealEstate10KDataset
    from genwarp.data.eval_index import resolve_entries, save_eval_index, scene_timestamps
    from genwarp.data.health import DataError
    from genwarp.data.peer_index import (apply_camera_rows, camera_row_lookup, geogpt_entries, imported_index,
                                         pixelsplat_entries, read_geogpt_frames, read_pixelsplat_index)

    dataset = args.dataset or "re10k"
    if dataset not in ("re10k", "acid"):
        p.error(f"peer protocols are RealEstate10K / ACID indices, not --dataset {dataset}")
    if args.from_geogpt:
        protocol, source = "geogpt", args.from_geogpt
        entries, not_imported = geogpt_entries(read_geogpt_frames(source)), {}
    else:
        protocol, source = "pixelsplat", args.from_pixelsplat
        entries, not_imported = pixelsplat_entries(read_pixelsplat_index(source))
    camera_rows = availability = None
    if args.root is not None:
        ds = None
        try:
            ds = RealEstate10KDataset(args.root, args.split, layout=args.layout, frames_root=args.frames_root,
                                      name=dataset, shuffle=False)
            ds_error = None
        except DataError as e:
            ds_error = str(e)
        if protocol == "geogpt":
            if args.layout == "raw":
                lookup = camera_row_lookup(args.root, args.split)
            elif ds is not None:
                def lookup(seq, ds=ds):
                    try:
                        return scene_timestamps(ds.open_scene(seq))
                    except DataError:
                        return None
            else:
                lookup = lambda seq: None  # noqa: E731
            camera_rows = apply_camera_rows(entries, lookup)
            print(f"timestamps -> camera rows: {camera_rows}")
        if ds is not None:
            resolved = resolve_entries(entries, ds, probe_frames=True)  # every frame decoded once
            availability = {"root": str(args.root), "split": args.split, "layout": args.layout, **resolved.to_dict()}
            print(resolved.summary())
        else:
            availability = {"root": str(args.root), "split": args.split, "layout": args.layout, "usable_pairs": 0,
                            "checked_pairs": len(entries), "skipped": {"dataset_unreadable": len(entries)},
                            "error": ds_error}
            print(f"0 of {len(entries)} pairs usable: {ds_error}")
    index = imported_index(protocol, entries, dataset=dataset, split=args.split, source_file=source,
                           not_imported=not_imported, camera_rows=camera_rows, availability=availability)
    save_eval_index(index, args.out)
    print(f"{args.out}: {index['num_entries']} {protocol} pairs over {index['num_scenes']} scenes {index['counts']}"
          + (f"; not imported: {not_imported}" if any(not_imported.values()) else "")
          + ("" if availability else "; frames not checked (no --root)"))
    return 0


def export_peer_index(p: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    import json

    from genwarp.data.eval_index import load_eval_index
    from genwarp.data.peer_index import add_timestamps, camera_row_lookup, export_geogpt, export_pixelsplat

    source = args.export_geogpt or args.export_pixelsplat
    index = load_eval_index(source, allow_timestamps=True)
    entries = [dict(e) for e in index["entries"]]
    if args.export_geogpt:
        if args.root is not None:
            print(f"rows -> timestamps: {add_timestamps(entries, camera_row_lookup(args.root, args.split))}")
        lines, counts = export_geogpt(entries)
        text = "\n".join(lines) + "\n" if lines else ""
        what = f"{counts['sequences']} GeoGPT sequences"
    else:
        data, counts = export_pixelsplat(entries)
        text = json.dumps(data, indent=1) + "\n" if data else ""
        what = f"{counts['scenes']} pixelSplat scenes"
    lost = {k: v for k, v in counts.items() if k not in ("exported_pairs", "sequences", "scenes", "added") and v}
    print(f"{source}: {counts['exported_pairs']} of {len(entries)} pairs exported as {what}"
          + (f"; not representable, left out: {lost}" if lost else "")
          + (f"; GeoGPT also runs {counts['added']} reverse pairs the index does not list" if counts.get("added") else ""))
    if not text:
        print(f"nothing to export: no pair of {source} fits the format", file=sys.stderr)
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"wrote {args.out}")
    return 0


def photonvs(p: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from genwarp.data.peer_index import PHOTONVS_PAIRS, export_photonvs, import_photonvs_outputs

    if args.import_photonvs_outputs:
        counts = import_photonvs_outputs(args.import_photonvs_outputs, args.out)
        print(f"{args.import_photonvs_outputs}: {counts['imported']} Photometric-NVS images -> {args.out}/<pair id>.png"
              + (f"; {counts['not_generated']} not generated yet" if counts["not_generated"] else ""))
        return 0 if counts["imported"] else 1

    from genwarp.data import RealEstate10KDataset
    from genwarp.data.eval_index import load_eval_index, scene_timestamps
    from genwarp.data.health import DataError
    from genwarp.data.peer_index import apply_camera_rows, camera_row_lookup

    if args.root is None:
        p.error("--export-photonvs needs --root: the poses come from the cameras and init-ims/0000.png from the source frame")
    index = load_eval_index(args.export_photonvs, allow_timestamps=True)
    entries = [dict(e) for e in index["entries"]]
    ds = RealEstate10KDataset(args.root, args.split, layout=args.layout, frames_root=args.frames_root,
                              name=index.get("dataset") if index.get("dataset") in ("re10k", "acid") else "re10k",
                              shuffle=False)
    if any("src_index" not in e and "src_timestamp" in e for e in entries):
        if args.layout == "raw":
            lookup = camera_row_lookup(args.root, args.split)  # the camera files alone
        else:
            def lookup(seq):
                try:
                    return scene_timestamps(ds.open_scene(seq))
                except DataError:
                    return None
        print(f"timestamps -> rows: {apply_camera_rows(entries, lookup)}")
    counts = export_photonvs(entries, ds, args.out, source_index=str(args.export_photonvs))
    lost = {k: v for k, v in counts.items() if k not in ("exported_pairs", "folders") and v}
    print(f"{args.export_photonvs}: {counts['exported_pairs']} of {len(entries)} pairs exported as "
          f"{counts['folders']} Photometric-NVS folders in {args.out}" + (f"; left out: {lost}" if lost else ""))
    if not counts["folders"]:
        print(f"nothing to export: no pair of {args.export_photonvs} fits the format", file=sys.stderr)
        return 1
    print(f"pair ids: {args.out / PHOTONVS_PAIRS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
