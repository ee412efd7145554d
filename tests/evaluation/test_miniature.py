"""scripts/paper/miniature.py: the orchestration of the paper's tables in miniature.

The trainings are replaced by random-weight exports (training itself is tested in tests/training);
everything after them — evaluation of every method with exact and corrupted depth, the tables,
the provenance stamped into each file, the README block — runs for real on two pairs.
"""

import importlib.util
import json
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

pytest.importorskip("matplotlib")

REPO = Path(__file__).resolve().parents[2]
PAPER = REPO / "scripts" / "paper"


@pytest.fixture()
def miniature():
    if str(PAPER) not in sys.path:
        sys.path.insert(0, str(PAPER))
    spec = importlib.util.spec_from_file_location("paper_miniature", PAPER / "miniature.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fake_train_all(todo, runs, steps, jobs, log):
    """Stand-in for the trainings: a random export and the run config the script reads."""
    from genwarp.pipelines.factory import random_pipeline

    kinds = {"genwarp": "coords", "genwarp_noisy_depth": "coords", "embed_depth": "depth"}
    walls = {}
    for seed, name in enumerate(todo):
        run = runs / name
        if (run / "model" / "model_index.json").exists():
            continue
        random_pipeline(codec="pixel", image_prompt="none", seed=seed, condition_kind=kinds[name]).save_pretrained(
            run / "model")
        OmegaConf.save({"trainer": {"val_steps": 1, "val_guidance": 1.0}, "data": {"resolution": 32}},
                       run / "config.yaml")
        walls[name] = 0.0
    return walls


def test_train_command_resumes_or_starts(miniature, tmp_path):
    run = tmp_path / "genwarp"
    fresh = miniature.train_command("genwarp", [], run, 10)
    assert "experiment=synthetic_tiny" in fresh and "trainer.max_steps=10" in fresh
    assert not any(a.startswith(("resume=", "overwrite=")) for a in fresh)
    run.mkdir()
    assert "overwrite=true" in miniature.train_command("genwarp", [], run, 10)  # died before a checkpoint
    (run / "checkpoints" / "step_000005").mkdir(parents=True)
    resumed = miniature.train_command("genwarp", ["depth=corrupted_gt"], run, 10)
    assert "resume=latest" in resumed and "overwrite=true" not in resumed and "depth=corrupted_gt" in resumed


def test_unknown_model_is_refused(miniature, tmp_path):
    with pytest.raises(SystemExit, match="unknown"):
        miniature.main(["--models", "embed_nope", "--out", str(tmp_path / "o"), "--runs", str(tmp_path / "r"),
                        "--readme", "none"])


def test_tables_files_and_readme_block(miniature, tmp_path, monkeypatch):
    monkeypatch.setattr(miniature, "train_all", _fake_train_all)
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\nbefore\n\n{miniature.BEGIN}\nold text\n{miniature.END}\n\nafter\n")
    out, runs = tmp_path / "out", tmp_path / "runs"
    argv = ["--limit", "2", "--out", str(out), "--runs", str(runs), "--readme", str(readme),
            "--models", "genwarp_noisy_depth", "embed_depth"]
    miniature.main(argv)

    t1 = json.loads((out / "table1.json").read_text())
    labels = [r["label"] for r in t1["rows"]]
    for method in ("oracle", "warp-only", "warp-and-inpaint", "GenWarp (trained on exact depth)",
                   "GenWarp (trained on corrupted depth)"):
        assert any(label.startswith(method) for label in labels), (method, labels)
    assert {r["depth"] for r in t1["rows"]} == {"exact", "corrupted"}
    warp = {r["depth"]: r for r in t1["rows"] if r["label"].startswith("warp-only")}
    # The corrupted depth must reach the warp: the same pairs, a different warp-only score.
    assert warp["exact"]["all/psnr"] != pytest.approx(warp["corrupted"]["all/psnr"], abs=1e-3)
    assert all(r["all/n"] == 2 for r in t1["rows"])
    t2 = json.loads((out / "table2.json").read_text())
    assert [r["condition_kind"] for r in t2["rows"]] == ["coords", "depth"]

    command = "python scripts/paper/miniature.py " + " ".join(argv)
    for name in ("table1", "table2", "table4", "fig13"):
        data = json.loads((out / f"{name}.json").read_text())
        assert data["provenance"]["command"] == command and data["provenance"]["git_commit"]
    for name in ("table1", "table2", "table4"):
        assert f"- command: `{command}`" in (out / f"{name}.md").read_text()
    from PIL import Image

    assert Image.open(out / "fig13.png").text["command"] == command

    text = readme.read_text()
    assert text.startswith("# x\n\nbefore\n\n") and text.endswith("\n\nafter\n") and "old text" not in text
    assert text.count(miniature.BEGIN) == 1 and "| warp-only, exact depth |" in text
    # A second run reuses the exports and rewrites the same block (no duplicate, no retraining).
    miniature.main(argv)
    again = readme.read_text()
    assert again.count(miniature.BEGIN) == 1 and again.count("| warp-only, exact depth |") == 1
