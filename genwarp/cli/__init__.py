"""Console scripts ``genwarp-train``, ``genwarp-evaluate``, … : thin wrappers that run the very
``scripts/<name>.py`` of this project (same code, same arguments, same Hydra overrides).

The script is looked up in the source checkout next to the package (editable installs, ``pip
install -e .``) and else in ``<prefix>/share/genwarp/scripts`` where a wheel install puts the
scripts, together with ``configs/`` and the committed ``data/*.json`` evaluation indices (see
``[tool.setuptools.data-files]`` in pyproject.toml), so that ``scripts/../configs`` is found in both.
"""

from __future__ import annotations

import runpy
import sys
import sysconfig
from pathlib import Path

# console script -> file in scripts/
SCRIPTS = {
    "genwarp-train": "train.py",
    "genwarp-evaluate": "evaluate.py",
    "genwarp-benchmark": "benchmark.py",
    "genwarp-precompute-depth": "precompute_depth.py",
    "genwarp-prepare-re10k": "prepare_re10k.py",
    "genwarp-make-eval-index": "make_eval_index.py",
}


def resource_roots() -> list[Path]:
    """Folders that may hold ``scripts/``, ``configs/`` and ``data/``, first match wins: the source
    checkout holding this package, then the install prefixes' ``share/genwarp``."""
    checkout = Path(__file__).resolve().parents[2]
    roots = []
    if (checkout / "pyproject.toml").is_file() and (checkout / "configs" / "train.yaml").is_file():
        roots.append(checkout)
    for prefix in dict.fromkeys([sysconfig.get_path("data"), sys.prefix, sys.base_prefix]):
        roots.append(Path(prefix) / "share" / "genwarp")
    return roots


def find_resource(relative: str) -> Path:
    """``scripts/train.py``, ``configs/train.yaml``, ``data/eval_index_synthetic_test.json``, … as
    installed; a clear error naming where it was looked for when it is not."""
    tried = [root / relative for root in resource_roots()]
    for path in tried:
        if path.exists():
            return path
    raise FileNotFoundError(f"genwarp: {relative} is not installed (looked in: {', '.join(map(str, tried))}); "
                            "reinstall genwarp (pip install genwarp, or pip install -e . in a checkout)")


def run_script(command: str, argv: list[str] | None = None) -> None:
    """Run ``scripts/<file>.py`` for ``command`` as ``__main__`` with ``argv`` (default: this process's)."""
    try:
        path = find_resource(f"scripts/{SCRIPTS[command]}")
    except FileNotFoundError as err:
        raise SystemExit(str(err)) from None
    sys.argv = [command, *(sys.argv[1:] if argv is None else argv)]
    runpy.run_path(str(path), run_name="__main__")


def _entry(command: str):
    def main() -> None:
        run_script(command)

    main.__name__ = main.__qualname__ = command.removeprefix("genwarp-").replace("-", "_")
    main.__doc__ = f"``{command}``: runs scripts/{SCRIPTS[command]}."
    return main


train = _entry("genwarp-train")
evaluate = _entry("genwarp-evaluate")
benchmark = _entry("genwarp-benchmark")
precompute_depth = _entry("genwarp-precompute-depth")
prepare_re10k = _entry("genwarp-prepare-re10k")
make_eval_index = _entry("genwarp-make-eval-index")
