"""Every benchmark figure in README.md and docs/performance.md comes from a committed result file.

The generated blocks equal what genwarp.perf.report renders from docs/results/*.json; each result
file records its command, commit, machine and date, and its markdown twin is what
scripts/benchmark.py writes for it; outside the generated blocks no timing is typed by hand.
Reads files only (no benchmark runs).
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

from genwarp.perf import report

REPO = Path(__file__).resolve().parents[2]
RESULT_FILES = sorted((REPO / report.RESULTS).glob("benchmark_cpu*.json"))

# Timings that may stand outside a generated block: issue 7's constants and shown arithmetic.
ALLOWED_TIMINGS = {"1.43 s", "1.71 s", "0.25 s", "0.35 s",  # the release anchors and targets
                   "40 ms",  # 20 × 2 × 0.80 = 32 TFLOP ≈ 40 ms (the arithmetic, written out)
                   "2.2 ms",  # 1.72 TFLOP / 790 TFLOP/s = 2.2 ms (written out)
                   "790 TFLOP/s"}  # the --peak-tflops default (H100 dense bf16), a constant
TIMING = re.compile(r"\b\d+(?:[.,]\d+)?\s?(?:s|ms|min|pairs/s|samples/s|views/s|TFLOP/s)\b")


def _benchmark_module():
    spec = importlib.util.spec_from_file_location("benchmark_script", REPO / "scripts" / "benchmark.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_quoted_result_files_are_committed():
    names = {p.stem for p in RESULT_FILES}
    assert report.DEFAULT in names
    missing = sorted({*report.COMPARE, *report.DATA} - names)
    assert not missing, f"docs/performance.md quotes result files that are not in docs/results: {missing}"


@pytest.mark.parametrize("path", RESULT_FILES, ids=lambda p: p.stem)
def test_result_file_records_command_commit_machine_and_date(path):
    meta = json.loads(path.read_text())["meta"]
    absent = [k for k in report.META_KEYS if meta.get(k) in (None, "")]
    assert not absent, f"{path.name}: meta lacks {absent}"
    assert re.fullmatch(r"[0-9a-f]{40}(-dirty)?", meta["git_commit"]), meta["git_commit"]
    assert f"--output docs/results/{path.name}" in meta["command"], "the command must write this very file"
    if meta["device_type"] == "cpu":
        assert meta["command"].startswith("OMP_NUM_THREADS=1 "), "CPU figures are measured with one thread"
        assert meta.get("note"), "a CPU result says what else ran on the machine (--note)"


@pytest.mark.parametrize("path", RESULT_FILES, ids=lambda p: p.stem)
def test_markdown_twin_is_what_the_benchmark_writes(path):
    data = json.loads(path.read_text())
    assert path.with_suffix(".md").read_text() == _benchmark_module().markdown(data["results"], data["meta"])


def test_generated_blocks_equal_the_result_files():
    stale = []
    for rel, named in report.blocks(REPO).items():
        text = (REPO / rel).read_text()
        for name, body in named.items():
            if report.read_block(text, name) != body.rstrip("\n"):
                stale.append(f"{rel}: <!-- {name} -->")
    assert not stale, ("generated blocks differ from docs/results (run `python scripts/render_benchmark_docs.py`): "
                       + ", ".join(stale))


def test_a_hand_edited_figure_is_caught():
    text = (REPO / "README.md").read_text()
    body = report.read_block(text, "benchmark_cpu")
    median = re.search(r"1 view (\d+\.\d+) s", body).group(1)
    edited = report.replace_block(text, "benchmark_cpu", body.replace(f"1 view {median} s", "1 view 0.123 s"))
    assert report.read_block(edited, "benchmark_cpu") != report.blocks(REPO)["README.md"]["benchmark_cpu"]


def _outside_blocks(text: str) -> str:
    return re.sub(r"<!-- (\S+):begin -->.*?<!-- \1:end -->", "", text, flags=re.S)


@pytest.mark.parametrize("rel", ["README.md", "docs/performance.md"])
def test_no_timing_is_typed_outside_the_generated_blocks(rel):
    text = _outside_blocks((REPO / rel).read_text())
    if rel == "README.md":  # the Benchmarks section (other sections quote run times of their own commands)
        text = text[text.index("## Benchmarks"):]
        text = text[:text.index("\n## ", 1)]
    typed = sorted({m.group(0).replace("\n", " ") for m in TIMING.finditer(text)} - ALLOWED_TIMINGS)
    assert not typed, f"{rel}: timings typed by hand (take them from a result file's generated block): {typed}"
