"""`scripts/*.py --help` answers without importing torch (heavy imports come after argument
parsing), and every option of those scripts says what it does (no issue numbers in the help)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "numpy", "diffusers", "transformers", "genwarp")

# Runs the script as __main__ with --help; records the parser it built and what had been imported.
PROBE = r"""
import argparse, json, runpy, sys
script, heavy = sys.argv[1], sys.argv[2].split(",")
parsers = []
_init = argparse.ArgumentParser.__init__
def _record(self, *a, **k):
    _init(self, *a, **k)
    parsers.append(self)
argparse.ArgumentParser.__init__ = _record
sys.argv = [script, "--help"]
try:
    runpy.run_path(script, run_name="__main__")
except SystemExit as e:
    code = e.code
else:
    code = "no exit"
parser = parsers[0]
print("\n@@PROBE@@" + json.dumps({
    "code": code,
    "loaded": [m for m in heavy if m in sys.modules],
    "options": [a.option_strings for a in parser._actions if a.option_strings],
    "no_help": [a.option_strings for a in parser._actions
                if a.option_strings and not (a.help and a.help.strip()) and a.help is not argparse.SUPPRESS],
}))
"""

SCRIPTS = ["quickstart.py", "check_release_fidelity.py", "benchmark.py"]


def _probe(script: str) -> tuple[dict, str]:
    out = subprocess.run([sys.executable, "-c", PROBE, str(REPO / "scripts" / script), ",".join(HEAVY)],
                         capture_output=True, text=True, timeout=300, cwd=REPO)
    assert "@@PROBE@@" in out.stdout, out.stdout + out.stderr
    help_text, _, tail = out.stdout.rpartition("@@PROBE@@")
    return json.loads(tail), help_text


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_imports_nothing_heavy_and_every_option_has_help(script):
    info, help_text = _probe(script)
    assert info["code"] in (0, None), info
    assert "usage:" in help_text
    assert not info["loaded"], f"{script} --help imported {info['loaded']}: import them after parse_args"
    assert not info["no_help"], f"{script}: options without a help string: {info['no_help']}"
    assert not re.search(r"\bissue\s*#?\d", help_text, re.IGNORECASE), f"{script} --help names an issue number"


def test_benchmark_has_all_its_options():
    info, _ = _probe("benchmark.py")
    assert len(info["options"]) >= 39, info["options"]  # a probe that saw the whole parser (39 with --help)
