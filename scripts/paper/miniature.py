#!/usr/bin/env python
"""The paper's claims in miniature, from scratch on synthetic rooms, on a CPU (issue 10 §4).

Trains what it compares with ``scripts/train.py`` (the main job's recipe, ``experiment=synthetic_tiny``,
one training per model), evaluates with the evaluation and paper code, and writes
``docs/results/miniature/`` (JSON + markdown + PNG, each stating its command, git commit, machine and
wall time) and the README section "What learns on a laptop":

* **Table 1**: GenWarp vs warp-only vs warp-and-inpaint (OpenCV Telea stand-in) vs the oracle, mid and
  long range, with exact source depth and with MDE-like corrupted depth; PSNR, SSIM, the visible /
  invisible split (LPIPS when its weights are on disk). A second GenWarp trained on the corrupted
  depth is scored on it too (the paper trains on monocular depth).
* **Table 2**: the four warped embeddings (coordinates = GenWarp, depth, image, Plücker), the same
  budget each.
* **Table 4**: attention mass on source tokens over visible vs invisible target tokens.
* **Fig. 13**: error against the invisible-region ratio, per method.

    python scripts/paper/miniature.py                       # ~30 min on 2 cores with --jobs 2
    python scripts/paper/miniature.py --steps 2 --limit 4 --out /tmp/m --runs /tmp/m_runs --readme none

Resumable: a model whose export exists is not retrained, a training that stopped resumes from its
last checkpoint (``resume=latest``), and the evaluation folders resume as ``scripts/evaluate.py`` does.
The trainings run in their own processes (``--jobs`` at a time, one thread each).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BEGIN, END = "<!-- miniature:begin -->", "<!-- miniature:end -->"
EMBEDDINGS = {"coords": "warped coordinates (GenWarp)", "depth": "warped depth", "image": "warped image",
              "plucker": "Plücker rays"}


def models(corruption: float) -> dict[str, list[str]]:
    """Training overrides of every model the miniature compares (name → Hydra overrides)."""
    out = {"genwarp": []}
    out["genwarp_noisy_depth"] = ["depth=corrupted_gt", f"depth.corruption={corruption:g}"]
    for kind in ("depth", "image", "plucker"):
        out[f"embed_{kind}"] = [f"model.condition_kind={kind}"]
    return out


# ------------------------------------------------------------------------------------------ provenance
def provenance(command: str) -> dict:
    """What a reader needs to trust a number: the command, the code, the machine."""
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return "unknown"

    import torch

    dirty = git("status", "--porcelain", "--untracked-files=no")
    return {"command": command, "git_commit": git("rev-parse", "HEAD") + (" (with uncommitted changes)" if dirty else ""),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, {platform.system()} {platform.release()}, "
                       f"Python {platform.python_version()}, torch {torch.__version__}, no GPU used",
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "load_average_at_start": round(os.getloadavg()[0], 2)}


def stamp(out: Path, name: str, prov: dict, wall_s: float) -> None:
    """Add the provenance to every file ``name.*`` a paper function wrote into ``out``."""
    footer = (f"\n- command: `{prov['command']}`\n- git commit: `{prov['git_commit']}`\n- machine: {prov['machine']}\n"
              f"- wall time of this stage: {wall_s:.0f} s; written {prov['date']}\n")
    for path in sorted(out.glob(f"{name}*")):
        if path.suffix == ".md":
            path.write_text(path.read_text().rstrip("\n") + "\n" + footer)
        elif path.suffix == ".json":
            data = json.loads(path.read_text())
            data = data if isinstance(data, dict) else {"data": data}
            data["provenance"] = dict(prov, wall_s=round(wall_s, 1))
            path.write_text(json.dumps(data, indent=1, default=str) + "\n")
        elif path.suffix == ".png":
            from PIL import Image
            from PIL.PngImagePlugin import PngInfo

            info = PngInfo()
            for k, v in dict(prov, wall_s=f"{wall_s:.0f}").items():
                info.add_text(k, str(v))
            Image.open(path).save(path, pnginfo=info)


# ------------------------------------------------------------------------------------------ training
def train_command(name: str, overrides: list[str], run: Path, steps: int | None) -> list[str]:
    cmd = [sys.executable, str(REPO / "scripts" / "train.py"), "experiment=synthetic_tiny", "evaluate_after=false",
           f"output_dir={run}", "logger.progress_bar=false", *overrides]
    if steps is not None:
        cmd.append(f"trainer.max_steps={steps}")
        cmd.append(f"trainer.validate_every={max(steps, 1)}")
        cmd.append(f"trainer.checkpoint_every={max(min(200, steps), 1)}")
    if (run / "checkpoints").is_dir() and any((run / "checkpoints").iterdir()):
        cmd.append("resume=latest")
    elif run.exists():
        cmd.append("overwrite=true")  # a folder without a checkpoint: a training that died before its first
    return cmd


def recorded_wall(run: Path) -> float | None:
    """Training wall seconds of a finished run: from ``<name>.train.json`` when this script trained it,
    else from the run folder's first log line to the export's write (start-up not included)."""
    record = run.parent / f"{run.name}.train.json"
    if record.is_file():
        return float(json.loads(record.read_text())["wall_s"])
    import datetime as dt
    import re

    log, export = run / "train.log", run / "model" / "model_index.json"
    if not (log.is_file() and export.is_file()):
        return None
    match = re.match(r"\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)", log.read_text()[:40])
    if not match:
        return None
    start = dt.datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.UTC).timestamp()
    return export.stat().st_mtime - start


def train_all(todo: dict[str, list[str]], runs: Path, steps: int | None, jobs: int, log) -> dict[str, float]:
    """Train every model whose export is missing, ``jobs`` at a time; returns wall seconds per model."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    pending = []
    for name, overrides in todo.items():
        if (runs / name / "model" / "model_index.json").exists():
            log(f"[train] {name}: export exists, not retrained ({runs / name / 'model'})")
        else:
            pending.append((name, overrides))
    running: list[tuple[str, subprocess.Popen, float, object]] = []
    walls: dict[str, float] = {}
    from tqdm import tqdm

    bar = tqdm(total=len(pending), desc="trainings", unit="model", disable=not pending)
    while pending or running:
        while pending and len(running) < jobs:
            name, overrides = pending.pop(0)
            run = runs / name
            cmd = train_command(name, overrides, run, steps)
            run.parent.mkdir(parents=True, exist_ok=True)
            logf = open(runs / f"{name}.train.log", "a")
            log(f"[train] {name}: {' '.join(cmd[1:])}  (log: {runs / (name + '.train.log')})")
            running.append((name, subprocess.Popen(cmd, cwd=REPO, env=env, stdout=logf, stderr=subprocess.STDOUT),
                            time.time(), logf))
        time.sleep(1.0)
        for item in list(running):
            name, proc, t0, logf = item
            if proc.poll() is None:
                continue
            running.remove(item)
            logf.close()
            if proc.returncode != 0:
                for other in running:
                    other[1].terminate()
                tail = (runs / f"{name}.train.log").read_text().splitlines()[-15:]
                raise SystemExit(f"training {name} failed (exit {proc.returncode}); last lines of "
                                 f"{runs / (name + '.train.log')}:\n" + "\n".join(tail))
            walls[name] = time.time() - t0
            (runs / f"{name}.train.json").write_text(json.dumps(
                {"command": " ".join(proc.args[1:]), "wall_s": round(walls[name], 1), "jobs": jobs}, indent=1) + "\n")
            bar.update(1)
            log(f"[train] {name}: done in {walls[name]:.0f} s")
    bar.close()
    return walls


# ------------------------------------------------------------------------------------------ evaluation
def _sampler(run: Path) -> dict:
    """The main job's evaluation sampler, read from the trained run's own config."""
    from omegaconf import OmegaConf

    cfg = OmegaConf.load(run / "config.yaml")
    return {"num_inference_steps": int(cfg.trainer.val_steps), "guidance_scale": float(cfg.trainer.val_guidance),
            "resolution": int(cfg.data.resolution)}


def evaluate(method: str, out: Path, depth: dict, sampler: dict, metrics: list[str], limit: int | None,
             checkpoint: Path | None = None, inpaint: str | None = None) -> dict:
    from omegaconf import OmegaConf

    from genwarp.evaluation.config import EvaluateConfig
    from genwarp.evaluation.run import run_evaluation

    cfg = OmegaConf.merge(OmegaConf.structured(EvaluateConfig), {
        "method": method, "data": {"name": "synthetic", "resolution": sampler["resolution"]}, "depth": depth,
        "output_dir": str(out), "limit": limit, "metrics": metrics, "batch_size": 16, "device": "cpu",
        "checkpoint": str(checkpoint) if checkpoint else None,
        "sampler": {"num_inference_steps": sampler["num_inference_steps"], "guidance_scale": sampler["guidance_scale"]},
        "inpaint": {"model": inpaint, "inpaint_size": None} if inpaint else {},
    })
    return run_evaluation(cfg)["score"]["summary"]


def fmt(value, metric: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.4f}" if metric.startswith(("ssim", "lpips")) else f"{value:.2f}"


def table(rows: list[dict], columns: list[tuple[str, str]], first: str) -> str:
    lines = [f"| {first} | " + " | ".join(c[1] for c in columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for row in rows:
        lines.append(f"| {row['label']} | " + " | ".join(fmt(row.get(c[0]), c[0].split('/')[-1]) for c in columns) + " |")
    return "\n".join(lines)


def flat(summary: dict) -> dict:
    return {f"{rng}/{k}": v for rng, entry in summary.items() if isinstance(entry, dict) for k, v in entry.items()}


# ------------------------------------------------------------------------------------------ stages
def stage_table1(exports: dict[str, Path], runs: Path, out: Path, sampler: dict, metrics: list[str],
                 corruption: float, limit: int | None) -> tuple[list[dict], list[str]]:
    exact = {"source": "gt"}
    noisy = {"source": "corrupted_gt", "corruption": corruption}
    rows, fig_runs = [], []
    entries = [("oracle (target image; upper bound)", "oracle", None, None),
               ("warp-only", "warp_only", None, None),
               ("warp-and-inpaint (OpenCV Telea)", "warp_inpaint", None, "opencv:telea"),
               ("GenWarp (trained on exact depth)", "genwarp", exports["genwarp"], None)]
    for label, method, ckpt, inpaint in entries:
        for dlabel, depth, tag in (("exact", exact, "gt"), ("corrupted", noisy, "noisy")):
            folder = runs / "eval" / f"table1_{method}_{tag}"
            rows.append({"label": label, "depth": dlabel,
                         **flat(evaluate(method, folder, depth, sampler, metrics, limit, ckpt, inpaint))})
            if tag == "gt" and method != "oracle":
                fig_runs.append(str(folder))
    if "genwarp_noisy_depth" in exports:
        folder = runs / "eval" / "table1_genwarp-noisy-trained_noisy"
        rows.append({"label": "GenWarp (trained on corrupted depth)", "depth": "corrupted",
                     **flat(evaluate("genwarp", folder, noisy, sampler, metrics, limit, exports["genwarp_noisy_depth"]))})
    for r in rows:
        r["label"] = f"{r['label']}, {r['depth']} depth"
        r["resolution"] = sampler["resolution"]
    lp = [m for m in metrics if m == "lpips"]
    main = [(f"{rg}/{m}", f"{rg} {m}") for rg in ("mid", "long", "all") for m in ["psnr", "ssim", *lp]]
    regions = [(f"all/psnr_{r}", f"PSNR {r}") for r in ("visible", "invisible")] + \
              [(f"all/ssim_{r}", f"SSIM {r}") for r in ("visible", "invisible")]
    regions = [c for c in regions if any(c[0] in r for r in rows)]
    md = ["# Table 1 in miniature: GenWarp vs warp-only vs warp-and-inpaint", "",
          f"Committed synthetic index `data/eval_index_synthetic_test.json` ({rows[0].get('all/n', '?')} pairs at "
          f"{sampler['resolution']}²), sampler: {sampler['num_inference_steps']} DDIM step(s), CFG "
          f"{sampler['guidance_scale']:g}; corrupted depth = `depth=corrupted_gt depth.corruption={corruption:g}` "
          "(scale/shift error, smooth noise, edge bleeding); visible / invisible regions from the exact depth.", "",
          table(rows, main, "method, source depth"), "", "Visible / invisible target region (all pairs):", "",
          table(rows, regions, "method, source depth"), ""]
    (out / "table1.md").write_text("\n".join(md))
    (out / "table1.json").write_text(json.dumps({"rows": rows, "sampler": sampler, "corruption": corruption}, indent=1))
    return rows, fig_runs


def stage_table2(exports: dict[str, Path], runs: Path, out: Path, sampler: dict, metrics: list[str],
                 limit: int | None) -> list[dict]:
    rows = []
    for kind, label in EMBEDDINGS.items():
        name = "genwarp" if kind == "coords" else f"embed_{kind}"
        if name not in exports:
            continue
        folder = runs / "eval" / f"table2_{kind}"
        rows.append({"label": label, "condition_kind": kind,
                     **flat(evaluate("genwarp", folder, {"source": "gt"}, sampler, metrics, limit, exports[name]))})
    cols = [(f"{rg}/{m}", f"{rg} {m}") for rg in ("mid", "long", "all") for m in ["psnr", "ssim", *[m for m in metrics if m in ("lpips", "fid")]]]
    cols += [("all/psnr_visible", "PSNR visible"), ("all/psnr_invisible", "PSNR invisible")]
    md = ["# Table 2 in miniature: the warped embedding", "",
          "Each row is the main job's recipe trained from scratch with `model.condition_kind=<kind>` for the same "
          "steps, evaluated like Table 1 with exact depth.", "", table(rows, cols, "embedding"), ""]
    (out / "table2.md").write_text("\n".join(md))
    (out / "table2.json").write_text(json.dumps({"rows": rows, "sampler": sampler}, indent=1))
    return rows


def stage_table4(export: Path, out: Path, sampler: dict, limit: int | None) -> list[dict]:
    from genwarp.evaluation.paper import load_pipeline, pair_batches, table4_attention_mass

    pipe = load_pipeline(str(export))
    batches = pair_batches("synthetic", limit=min(limit or 32, 32), batch_size=8, resolution=sampler["resolution"])
    return table4_attention_mass(pipe, batches(), out, num_inference_steps=sampler["num_inference_steps"],
                                 guidance_scale=sampler["guidance_scale"], seed=0)


def stage_fig13(fig_runs: list[str], out: Path, metric: str) -> dict:
    from genwarp.evaluation.paper import fig13_error_vs_invisible

    return fig13_error_vs_invisible(fig_runs, out, metric=metric)


def readme_section(out: Path, t1: list[dict], t2: list[dict], t4: list[dict], prov: dict, steps_note: str) -> str:
    rel = out.resolve().relative_to(REPO) if out.resolve().is_relative_to(REPO) else out
    t1_cols = [("all/psnr", "all PSNR"), ("all/ssim", "all SSIM"), ("long/psnr", "long PSNR"),
               ("all/psnr_visible", "PSNR visible"), ("all/psnr_invisible", "PSNR invisible")]
    t2_cols = [("all/psnr", "all PSNR"), ("all/ssim", "all SSIM"), ("all/psnr_visible", "PSNR visible")]
    n_pairs = int(t1[0].get("all/n", 0)) if t1 else 0
    res = t1[0].get("resolution", "?") if t1 else "?"
    t4_text = ", ".join(f"{r['region']} target tokens {r['source']:.3f}" for r in t4)
    return "\n".join([
        BEGIN,
        f"_Written by `{prov['command']}` at commit `{prov['git_commit'][:12]}`"
        f"{' (with uncommitted changes)' if 'uncommitted' in prov['git_commit'] else ''} ({prov['date']}; {prov['machine']}). "
        f"Do not edit by hand: rerun the script._ {steps_note} Files: [`{rel}/`]({rel}/README.md).", "",
        f"Table 1 in miniature ({n_pairs} synthetic pairs at {res}², exact and corrupted source depth):", "",
        table(t1, t1_cols, "method, source depth"), "",
        "Table 2 in miniature (the warped embedding, same budget each, exact depth):", "",
        table(t2, t2_cols, "embedding"), "",
        f"Table 4 in miniature: attention mass on source tokens — {t4_text} "
        f"(Fig. 13: [`fig13.png`]({rel}/fig13.png)).",
        END])


def replace_section(readme: Path, section: str) -> None:
    text = readme.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{readme} has no {BEGIN} … {END} block to write the tables into")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(head + section + tail)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=str(REPO / "docs" / "results" / "miniature"), help="where tables/figures go")
    p.add_argument("--runs", default=str(REPO / "runs" / "miniature"), help="training and evaluation folders")
    p.add_argument("--steps", type=int, default=None, help="training steps per model (default: the main job's)")
    p.add_argument("--jobs", type=int, default=2, help="trainings at a time (one thread each)")
    p.add_argument("--corruption", type=float, default=1.0, help="depth.corruption of the noisy-depth setting")
    p.add_argument("--limit", type=int, default=None, help="first N pairs of the index (default: all 128)")
    p.add_argument("--models", nargs="+", default=None,
                   help="subset of: genwarp genwarp_noisy_depth embed_depth embed_image embed_plucker (genwarp is "
                        "always trained)")
    p.add_argument("--readme", default=str(REPO / "README.md"), help="README to write the section into, or 'none'")
    a = p.parse_args(argv)
    command = " ".join(["python scripts/paper/miniature.py", *(argv if argv is not None else sys.argv[1:])])
    prov = provenance(command)
    out, runs = Path(a.out), Path(a.runs)
    out.mkdir(parents=True, exist_ok=True)
    runs.mkdir(parents=True, exist_ok=True)
    todo = models(a.corruption)
    if a.models:
        unknown = sorted(set(a.models) - set(todo))
        if unknown:
            raise SystemExit(f"--models: unknown {unknown}; choose from {sorted(todo)}")
        todo = {n: o for n, o in todo.items() if n == "genwarp" or n in a.models}
    if a.readme != "none" and BEGIN not in Path(a.readme).read_text():
        raise SystemExit(f"{a.readme} has no {BEGIN} … {END} block to write the tables into")

    def log(msg: str) -> None:
        print(msg, flush=True)

    t0 = time.time()
    walls = train_all(todo, runs, a.steps, a.jobs, log)
    exports = {n: runs / n / "model" for n in todo}
    sampler = _sampler(runs / "genwarp")
    from genwarp.training.main_job import available_metrics

    metrics = available_metrics()
    log(f"[eval] metrics {metrics}; sampler {sampler}")
    for name in todo:  # models trained by an earlier invocation: their recorded wall time
        if name not in walls and (wall := recorded_wall(runs / name)) is not None:
            walls[name] = wall
    timings = {"trainings_s": {n: round(w, 1) for n, w in walls.items()}}

    s = time.time()
    t1, fig_runs = stage_table1(exports, runs, out, sampler, metrics, a.corruption, a.limit)
    stamp(out, "table1", prov, time.time() - s)
    timings["table1_s"] = round(time.time() - s, 1)
    s = time.time()
    t2 = stage_table2(exports, runs, out, sampler, metrics, a.limit)
    stamp(out, "table2", prov, time.time() - s)
    timings["table2_s"] = round(time.time() - s, 1)
    s = time.time()
    t4 = stage_table4(exports["genwarp"], out, sampler, a.limit)
    stamp(out, "table4", prov, time.time() - s)
    timings["table4_s"] = round(time.time() - s, 1)
    s = time.time()
    stage_fig13(fig_runs, out, "lpips" if "lpips" in metrics else "psnr")
    stamp(out, "fig13", prov, time.time() - s)
    timings["fig13_s"] = round(time.time() - s, 1)
    timings["total_s"] = round(time.time() - t0, 1)

    steps = a.steps if a.steps is not None else "the main job's"
    steps_note = (f"Every model: {steps} training steps of `experiment=synthetic_tiny`, {a.jobs} training(s) at a time "
                  f"with one thread each; this invocation took {timings['total_s'] / 60:.0f} min (load average "
                  f"{prov['load_average_at_start']} at its start, {os.getloadavg()[0]:.2f} at its end); training wall "
                  f"times: {', '.join(f'{n} {w / 60:.1f} min' for n, w in walls.items()) or 'not recorded'}.")
    section = readme_section(out, t1, t2, t4, prov, steps_note)
    summary = ["# The paper's claims in miniature", "", section.replace(BEGIN, "").replace(END, "").strip(), "",
               "Full tables: [table1.md](table1.md), [table2.md](table2.md), [table4.md](table4.md), "
               "[fig13.png](fig13.png) ([fig13.json](fig13.json)).", ""]
    (out / "README.md").write_text("\n".join(summary))
    # Earlier invocations (which trained what this one reused) stay on record, newest last.
    previous = out / "provenance.json"
    history = []
    if previous.is_file():
        old = json.loads(previous.read_text())
        history = old.pop("earlier_invocations", []) + [old]
    previous.write_text(json.dumps(dict(prov, timings=timings, models=todo, earlier_invocations=history), indent=1) + "\n")
    if a.readme != "none":
        replace_section(Path(a.readme), section)
        log(f"[readme] section written into {a.readme}")
    print((out / "README.md").read_text())


if __name__ == "__main__":
    main()
