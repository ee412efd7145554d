"""Benchmark figures in the docs, generated from the committed result files (never typed by hand).

``scripts/benchmark.py`` writes ``{"meta": …, "results": [rows]}`` JSON (with the command, the git
commit, the machine and the date in ``meta``); the result files the docs quote are committed in
``docs/results/``. This module renders the blocks between ``<!-- NAME:begin -->`` and
``<!-- NAME:end -->`` in README.md and docs/performance.md from them;
``python scripts/render_benchmark_docs.py`` rewrites the blocks, and
``tests/perf/test_benchmark_docs.py`` fails when a block differs from what the files give.
No torch here: rendering reads JSON only.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

RESULTS = "docs/results"
DEFAULT = "benchmark_cpu"  # python scripts/benchmark.py (every section, the CPU defaults)
COMPARE = {  # docs/performance.md's opt-in means on the CPU: result file → what it compares
    "benchmark_cpu_fused_qkv": "fused QKV (the CPU `--optimized`)",
    "benchmark_cpu_masked": "masked CFG layout",
    "benchmark_cpu_channels_last": "channels-last",
}
DATA = {"benchmark_cpu": "64², in-process", "benchmark_cpu_data512": "512², in-process",
        "benchmark_cpu_data512_workers2": "512², 2 worker processes"}
META_KEYS = ("command", "git_commit", "date_utc", "device", "hostname_cpu", "cpu_threads", "cpus", "torch")


def load(repo: Path, name: str) -> dict:
    return json.loads((Path(repo) / RESULTS / f"{name}.json").read_text())


def _rows(result: dict, kind: str) -> list[dict]:
    return [r for r in result["results"] if r["benchmark"] == kind]


def provenance(result: dict, name: str) -> str:
    """One line: file, command, commit, date, machine, load and note of a result file."""
    m = result["meta"]
    load_avg = m.get("load_average_start")
    parts = [f"[`{RESULTS}/{name}.json`](results/{name}.md)",
             f"`{m['command']}`", f"commit `{m['git_commit'][:12]}{'-dirty' if m['git_commit'].endswith('-dirty') else ''}`",
             f"started {m['date_utc']}", f"{m['hostname_cpu']}, {m['cpu_threads']} of {m['cpus']} CPU threads, "
             f"torch {m['torch']}"]
    if load_avg:
        parts.append(f"load average {load_avg[0]} at the start")
    if m.get("wall_s") is not None:
        parts.append(f"{m['wall_s']:.0f} s wall time")
    line = "; ".join(parts) + "."
    if m.get("note"):
        line += f" {m['note'][0].upper()}{m['note'][1:]}."
    return line


def source(result: dict, name: str) -> str:
    """The short form for machine-independent rows (counted FLOPs): file, command, commit."""
    m = result["meta"]
    return (f"From [`{RESULTS}/{name}.json`](results/{name}.md) (`flops` rows; written by `{m['command']}` at "
            f"commit `{m['git_commit'][:12]}`). FLOPs are counted, not timed: they do not depend on the machine.")


def _sampling(result: dict, variant: str = "plain") -> dict[tuple[int, int], dict]:
    return {(r["sources"], r["views_per_source"]): r for r in _rows(result, "sampling") if r["variant"] == variant}


def _flop(result: dict, what: str) -> dict:
    return next(r for r in _rows(result, "flops") if r["what"] == what)


def cpu_summary(result: dict) -> str:
    """The README's and docs/performance.md's summary of the default CPU run (a text block)."""
    s = _sampling(result)
    res, steps = next(iter(s.values()))["resolution"], next(iter(s.values()))["steps"]

    def med(b, n):
        return f"{s[(b, n)]['median_s']:.3f} s" if (b, n) in s else "-"

    train = _rows(result, "training")
    rate = {(r["batch_size"], r["checkpointing"]): r["samples_per_s"] for r in train}
    sizes = sorted({r["batch_size"] for r in train})
    per = lambda ck: " / ".join(f"{rate[(b, ck)]:.1f}" for b in sizes if (b, ck) in rate)  # noqa: E731
    data = _rows(result, "data")[0]
    one, four, tr = (_flop(result, "sampling 1 source(s) × 1 view(s), 20 steps + CFG"),
                     _flop(result, "sampling 1 source(s) × 4 view(s), 20 steps + CFG"),
                     _flop(result, "training, one sample (fwd + bwd)"))
    peak = one.get("peak_tflops") or result["meta"]["settings"]["peak_tflops"]
    lines = [
        f"sampling, {steps} steps + CFG, {res}²:  1 view {med(1, 1)} | 1 source × 4 views {med(1, 4)} | "
        f"4 sources {med(4, 1)}",
        f"                               1 source × 16 views {med(1, 16)} | 16 sources {med(16, 1)}",
        f"training samples/s (batch {'/'.join(map(str, sizes))}): {per(False)} (checkpointing off), "
        f"{per(True)} (on)",
        f"data: {data['pairs_per_second']:.1f} pairs/s (chunks, {data['resolution'][0]}², "
        f"{data['num_workers']} workers) = {data['data_over_training']:.1f} × the fastest training rate",
        f"flops ({one['arch']}, {one['resolution']}², counted):  one view {one['tflop']:.2f} TFLOP "
        f"(FLOP bound {one['flop_bound_s'] * 1e3:.0f} ms at {peak:.0f} TFLOP/s),",
        f"                               1 source × 4 views {four['tflop']:.1f} TFLOP, one training sample "
        f"{tr['tflop']:.2f} TFLOP",
    ]
    return "```text\n" + "\n".join(lines) + "\n```\n\n" + provenance(result, DEFAULT)


def flops_table(result: dict) -> str:
    """The counted FLOP budget (machine-independent) as a markdown table."""
    lines = ["| what | arch, resolution | TFLOP | convolution share | FLOP bound at peak | MFU the target needs |",
             "|---|---|---|---|---|---|"]
    for r in _rows(result, "flops"):
        conv = f"{r['conv_share']:.1%}" if r.get("conv_share") is not None else "-"
        bound = f"{r['flop_bound_s'] * 1e3:.0f} ms" if r.get("flop_bound_s") is not None else "-"
        need = f"{r['mfu_needed_for_target']:.1%} (for {r['target_s']} s)" if r.get("mfu_needed_for_target") else "-"
        lines.append(f"| {r['what']} | {r['arch']}, {r['resolution']}² | {r['tflop']:.4g} | {conv} | {bound} | {need} |")
    return "\n".join(lines) + "\n\n" + source(result, DEFAULT)


def flops_consequences(result: dict) -> str:
    """What the counted budget implies at the peak rate: the FLOP bounds and MFUs of the budget's rows."""
    one = _flop(result, "sampling 1 source(s) × 1 view(s), 20 steps + CFG")
    four = _flop(result, "sampling 1 source(s) × 4 view(s), 20 steps + CFG")
    tr = _flop(result, "training, one sample (fwd + bwd)")
    rate_key = next(k for k in tr if k.startswith("samples_per_s_at_"))
    mfu_target = rate_key.removeprefix("samples_per_s_at_").removesuffix("_mfu")
    peak = result["meta"]["settings"]["peak_tflops"]
    return "\n".join([
        f"* **One view.** {one['tflop']:.2f} TFLOP ({one['denoising_share']:.0%} denoising, "
        f"{one['decode_share']:.1%} VAE decode): FLOP bound {one['flop_bound_s'] * 1e3:.0f} ms at {peak:.0f} TFLOP/s. "
        f"The release's {one['release_anchor_s']} s runs at {one['release_anchor_mfu']:.1%} MFU; the "
        f"{one['target_s']} s target needs **{one['mfu_needed_for_target']:.1%} MFU**. The masked CFG layout "
        f"adds {one['masked_layout_extra']:.1%} FLOPs.",
        f"* **Four views of one source.** {four['tflop']:.1f} TFLOP: FLOP bound {four['flop_bound_s'] * 1e3:.0f} ms. "
        f"The release's {four['release_anchor_s']} s is {four['release_anchor_mfu']:.1%} MFU; the "
        f"{four['target_s']} s target needs **{four['mfu_needed_for_target']:.0%} MFU** end to end, VAE decode included.",
        f"* **Training.** {tr['tflop']:.2f} TFLOP per sample ({tr['vae_encode_share']:.0%} of it the two frozen VAE "
        f"encodes), so {mfu_target} MFU means **{tr[rate_key]:.1f} samples/s**. Gradient checkpointing recomputes "
        f"{tr['checkpointing_recompute_extra']:.1%} more hardware FLOPs.",
        "",
        source(result, DEFAULT),
    ])


def compare_table(results: dict[str, dict]) -> str:
    """Plain vs optimized sampling medians of the CPU comparison runs."""
    lines = ["| mean (result file) | configuration | plain median | optimized median | optimized ÷ plain |",
             "|---|---|---|---|---|"]
    notes = []
    for name, what in COMPARE.items():
        if name not in results:
            lines.append(f"| {what} (`{RESULTS}/{name}.json`) | not run | - | - | - |")
            continue
        plain, opt = _sampling(results[name], "plain"), _sampling(results[name], "optimized")
        for key in plain:
            b, n = key
            p, o = plain[key]["median_s"], opt[key]["median_s"]
            lines.append(f"| {what} ([`{name}`](results/{name}.md)) | {b} source(s) × {n} view(s) | "
                         f"{p:.3f} s | {o:.3f} s | {o / p:.2f} |")
        notes.append(f"* {provenance(results[name], name)}")
    return "\n".join(lines) + "\n\n" + "\n".join(notes)


def data_table(results: dict[str, dict]) -> str:
    """Data-loader pairs/s of the CPU runs."""
    lines = ["| result file | loader | pairs/s |", "|---|---|---|"]
    notes = []
    for name, what in DATA.items():
        if name not in results:
            lines.append(f"| `{RESULTS}/{name}.json` | {what} | not run |")
            continue
        for r in _rows(results[name], "data"):
            lines.append(f"| [`{name}`](results/{name}.md) | {what} ({r['num_workers']} workers, batch "
                         f"{r['batch_size']}, {r['num_pairs']} pairs) | {r['pairs_per_second']:.1f} |")
        if name != DEFAULT:
            notes.append(f"* {provenance(results[name], name)}")
    return "\n".join(lines) + ("\n\n" + "\n".join(notes) if notes else "")


def _readme_provenance_links(text: str) -> str:
    """README lives at the root: its links into docs/results need the docs/ prefix."""
    return text.replace("](results/", "](docs/results/")


def blocks(repo: Path) -> dict[str, dict[str, str]]:
    """``{file: {block name: body}}`` for every generated block."""
    repo = Path(repo)
    names = {DEFAULT, *COMPARE, *DATA}
    results = {n: load(repo, n) for n in sorted(names) if (repo / RESULTS / f"{n}.json").is_file()}
    default = results[DEFAULT]
    return {
        "README.md": {"benchmark_cpu": _readme_provenance_links(cpu_summary(default))},
        "docs/performance.md": {
            "benchmark_cpu_flops": flops_table(default),
            "benchmark_cpu_flops_consequences": flops_consequences(default),
            "benchmark_cpu_compare": compare_table(results),
            "benchmark_cpu_data": data_table(results),
            "benchmark_cpu_summary": cpu_summary(default),
        },
    }


def _pattern(name: str) -> re.Pattern:
    return re.compile(rf"(<!-- {re.escape(name)}:begin -->\n)(.*?)(<!-- {re.escape(name)}:end -->)", re.S)


def read_block(text: str, name: str) -> str:
    """The body between the markers, without its final newline."""
    m = _pattern(name).search(text)
    if m is None:
        raise KeyError(f"no <!-- {name}:begin --> … <!-- {name}:end --> block")
    return m.group(2).removesuffix("\n")


def replace_block(text: str, name: str, body: str) -> str:
    read_block(text, name)  # raises when the markers are missing
    return _pattern(name).sub(lambda m: m.group(1) + body.rstrip("\n") + "\n" + m.group(3), text, count=1)


def render(repo: Path) -> dict[Path, str]:
    """The new text of every file with generated blocks (only the blocks change)."""
    out = {}
    for rel, named in blocks(repo).items():
        path = Path(repo) / rel
        text = path.read_text()
        for name, body in named.items():
            text = replace_block(text, name, body)
        out[path] = text
    return out
