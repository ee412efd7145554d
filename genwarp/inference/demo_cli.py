"""``python scripts/demo.py``: start the Gradio demo on a local port.

    python scripts/demo.py --release-dir checkpoints --variant multi1            # the released model
    python scripts/demo.py --checkpoint runs/paper/model                          # one of ours
    python scripts/demo.py --tiny-random --depth-model path/to/tiny-depth --height 64 --width 64   # tests

``--depth-model`` may be repeated: the dropdown offers each (default: zoedepth-nyu and
depth-anything-v2-metric-indoor; a model that is not downloaded shows an error in the page naming
how to get it). Needs ``gradio`` (``pip install -e ".[demo]"``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from genwarp.inference.errors import InferenceInputError
from genwarp.inference.loading import load_pipeline, resolve_device, resolve_dtype

__all__ = ["build_parser", "main"]

DEFAULT_DEPTH_MODELS = ["zoedepth-nyu", "depth-anything-v2-metric-indoor"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="genwarp-demo", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--release-dir", type=Path, help="root of the released checkpoints")
    p.add_argument("--variant", default="multi1", help="release variant: multi1 or multi2")
    p.add_argument("--checkpoint", type=Path, help="one of our exports (save_pretrained folder or run folder)")
    p.add_argument("--tiny-random", action="store_true", help="a tiny random-weight model (tests; output is noise)")
    p.add_argument("--depth-model", action="append", help="a depth model for the dropdown (repeatable)")
    p.add_argument("--device", default="auto")
    p.add_argument("--dtype", default="auto", choices=["auto", "float32", "float16", "bfloat16"])
    p.add_argument("--height", type=int, default=512)
    p.add_argument("--width", type=int, default=512)
    p.add_argument("--max-batch", type=int, help="views per pipeline call (default: all)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: reachable from the network)")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--output-dir", type=Path, help="where videos are written (default: <tmp>/genwarp-demo)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    try:
        import gradio  # noqa: F401
    except ImportError:
        print('error: the demo needs gradio: pip install -e ".[demo]"', file=sys.stderr)
        return 2
    from genwarp.inference.app import DemoBackend, build_demo

    try:
        for name in ("height", "width"):
            if getattr(args, name) <= 0 or getattr(args, name) % 8:
                raise InferenceInputError(f"--{name} must be a positive multiple of 8, got {getattr(args, name)}")
        device = resolve_device(args.device)
        dtype = resolve_dtype(args.dtype, device)
        pipe = load_pipeline(release_dir=args.release_dir, variant=args.variant, checkpoint=args.checkpoint,
                             tiny_random=args.tiny_random, device=device, dtype=dtype)
    except InferenceInputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    backend = DemoBackend(pipe, args.depth_model or DEFAULT_DEPTH_MODELS, args.height, args.width, device=device,
                          output_dir=args.output_dir, max_batch=args.max_batch)
    note = "*Tiny random-weight model: the generated views are noise; the warped views are real geometry.*" \
        if args.tiny_random else ""
    demo = build_demo(backend, note=note)
    backend.output_dir.mkdir(parents=True, exist_ok=True)
    print(f"GenWarp demo on http://{args.host}:{args.port}", flush=True)
    demo.queue().launch(server_name=args.host, server_port=args.port, share=False, show_error=True,
                        allowed_paths=[str(backend.output_dir.resolve())])
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
