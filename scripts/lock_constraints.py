#!/usr/bin/env python
"""Write constraints.txt: the exact versions of every package CI installs (the tested set).

Resolves, with pip's own resolver and without installing anything (``pip install --dry-run
--ignore-installed --report``), what ``.ci/run`` installs: torch and torchvision (versions from
``--torch``/``--torchvision``, default: the current constraints.txt) and ``-e .[every extra]``; then
writes every resolved package as ``name==version`` (genwarp itself left out), with pip, under a
header that says how it was made. ``.ci/run`` installs with ``-c constraints.txt``, and
``tests/packaging/test_constraints.py`` checks that every dependency in pyproject.toml has a pin
there that satisfies its range.

    python scripts/lock_constraints.py          # keep current pins, resolve only what is new
    python scripts/lock_constraints.py --upgrade   # resolve everything afresh (newest that fit)

Afterwards run the tests (CI does: ``bash .ci/run``) before committing the new file.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONSTRAINTS = REPO / "constraints.txt"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)$")


def read_pins(path: Path = CONSTRAINTS) -> dict[str, str]:
    """``{canonical name: version}`` of a constraints file (comments and blank lines skipped)."""
    from packaging.utils import canonicalize_name

    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            m = PIN.match(line)
            if not m:
                raise ValueError(f"{path.name}: not an exact pin: {line!r}")
            pins[canonicalize_name(m.group(1))] = m.group(2)
    return pins


def extras() -> list[str]:
    return sorted(tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    current = read_pins() if CONSTRAINTS.exists() else {}
    parser.add_argument("--torch", default=current.get("torch"), help="torch version (default: current pin)")
    parser.add_argument("--torchvision", default=current.get("torchvision"),
                        help="torchvision version (default: current pin)")
    parser.add_argument("--upgrade", action="store_true",
                        help="resolve everything afresh instead of keeping the current pins")
    parser.add_argument("--output", type=Path, default=CONSTRAINTS, help="default: constraints.txt")
    args = parser.parse_args(argv)
    if not (args.torch and args.torchvision):
        parser.error("--torch and --torchvision are needed when there is no constraints.txt")

    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        keep = []
        if current and not args.upgrade:
            kept = Path(tmp) / "keep.txt"
            kept.write_text("\n".join(f"{k}=={v}" for k, v in current.items()
                                      if k not in {"torch", "torchvision"}) + "\n")
            keep = ["-c", str(kept)]
        cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
               "--report", str(report), *keep, f"torch=={args.torch}", f"torchvision=={args.torchvision}",
               "-e", f".[{','.join(extras())}]"]
        subprocess.run(cmd, cwd=REPO, check=True)
        resolved = {item["metadata"]["name"]: item["metadata"]["version"]
                    for item in json.loads(report.read_text())["install"]}
    resolved.pop("genwarp", None)
    pip_version = subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True, text=True,
                                 check=True).stdout.split()[1]
    resolved.setdefault("pip", pip_version)
    lines = [
        "# The tested set: exact versions of every package that .ci/run installs (genwarp itself excepted).",
        "# .ci/run installs with `-c constraints.txt`; so does a user who wants this set:",
        "#   pip install -c constraints.txt torch torchvision",
        "#   pip install -c constraints.txt -e \".[test,train,distributed,data,eval,demo,ui-test]\"",
        f"# Written by `python scripts/lock_constraints.py{' --upgrade' if args.upgrade else ''}` "
        f"({time.strftime('%Y-%m-%d', time.gmtime())}, Python {sys.version.split()[0]}, pip {pip_version}):",
        "# pip's resolver (install --dry-run --ignore-installed --report) for torch, torchvision and",
        f"# -e .[{','.join(extras())}]. Regenerate with the same command (--upgrade for newest versions),",
        "# then run the tests. tests/packaging/test_constraints.py checks these pins against pyproject.toml.",
    ]
    lines += [f"{name}=={resolved[name]}" for name in sorted(resolved, key=str.lower)]
    args.output.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.output} ({len(resolved)} pins)")


if __name__ == "__main__":
    main()
