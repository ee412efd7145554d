"""Nothing silent in evaluation: a resumed folder is only reused with the settings that made it,
printed/written results belong to what was scored, malformed indices and manifests are one clear
error naming the file."""

import json
import runpy
import shutil
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from genwarp.evaluation.config import EvaluateConfig
from genwarp.evaluation.run import run_evaluation

REPO = Path(__file__).resolve().parents[2]
INDEX = REPO / "data" / "eval_index_synthetic_test.json"


def _cfg(tmp_path, **kw):
    base = dict(method="warp_only", data={"name": "synthetic", "resolution": 24}, depth={"source": "gt"},
                output_dir=str(tmp_path / "out"), limit=2, batch_size=2, progress=False, device="cpu", metrics=["psnr"])
    base.update(kw)
    return OmegaConf.merge(OmegaConf.structured(EvaluateConfig), base)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# ------------------------------------------------------------------------------ 1. resume guard
def test_other_data_or_depth_settings_are_refused_naming_the_keys(tmp_path):
    first = run_evaluation(_cfg(tmp_path))
    before = _snapshot(tmp_path / "out")
    # depth.corruption=1.0: used to skip every pair and report the exact-depth numbers again
    with pytest.raises(ValueError) as err:
        run_evaluation(_cfg(tmp_path, depth={"source": "corrupted_gt", "corruption": 1.0}))
    msg = str(err.value)
    assert "already holds images made with other settings" in msg
    assert 'depth.source: "gt" → "corrupted_gt"' in msg and "depth.corruption" in msg
    assert "new output_dir" in msg and "overwrite=true" in msg
    # data.resolution: the references themselves are stale
    with pytest.raises(ValueError, match=r"references: data.resolution: 24 → 16"):
        run_evaluation(_cfg(tmp_path, data={"name": "synthetic", "resolution": 16}))
    # the seed too (it seeds the method's generators)
    with pytest.raises(ValueError, match=r"images: seed: 0 → 1"):
        run_evaluation(_cfg(tmp_path, seed=1))
    assert _snapshot(tmp_path / "out") == before  # a refused run leaves the folder as it was
    # the same settings still resume
    again = run_evaluation(_cfg(tmp_path))
    assert again["generate"]["skipped"] == 2 and again["score"]["summary"] == first["score"]["summary"]
    # overwrite=true regenerates under the new settings
    new = run_evaluation(_cfg(tmp_path, depth={"source": "corrupted_gt", "corruption": 1.0}, overwrite=True))
    assert new["generate"]["generated"] == 2 and new["generate"]["skipped"] == 0
    assert new["score"]["summary"]["all"]["psnr"] < first["score"]["summary"]["all"]["psnr"]
    settings = json.loads((tmp_path / "out" / "settings.json").read_text())
    assert settings["images"]["depth"] == {"source": "corrupted_gt", "corruption": 1.0}
    # the resolution change with overwrite also rewrites the references
    small = run_evaluation(_cfg(tmp_path, data={"name": "synthetic", "resolution": 16}, overwrite=True))
    assert small["generate"]["generated"] == 2
    from genwarp.evaluation.layout import read_png

    assert read_png(next((tmp_path / "out" / "sources").glob("*.png"))).shape == (3, 16, 16)


def test_a_folder_without_a_settings_record_is_refused(tmp_path):
    run_evaluation(_cfg(tmp_path))
    (tmp_path / "out" / "settings.json").unlink()  # as written before settings.json existed
    with pytest.raises(ValueError, match="not recorded"):
        run_evaluation(_cfg(tmp_path))
    (tmp_path / "out" / "settings.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"settings\.json.*not valid JSON"):
        run_evaluation(_cfg(tmp_path))


def test_genwarp_checkpoint_and_sampler_settings_are_guarded(tmp_path):
    from genwarp.pipelines.factory import random_pipeline

    export = tmp_path / "export"
    random_pipeline(seed=0).save_pretrained(export)
    cfg = dict(method="genwarp", checkpoint=str(export), limit=1, sampler={"num_inference_steps": 1})
    run_evaluation(_cfg(tmp_path, **cfg))
    with pytest.raises(ValueError, match=r"sampler.num_inference_steps: 1 → 2"):
        run_evaluation(_cfg(tmp_path, **{**cfg, "sampler": {"num_inference_steps": 2}}))
    with pytest.raises(ValueError, match=r"sampler.guidance_scale: 3.5 → 1.0"):
        run_evaluation(_cfg(tmp_path, **{**cfg, "sampler": {"num_inference_steps": 1, "guidance_scale": 1.0}}))
    # a retrained export at the same path is other images, too
    shutil.rmtree(export)
    random_pipeline(seed=1).save_pretrained(export)
    with pytest.raises(ValueError, match=r"checkpoint_digest"):
        run_evaluation(_cfg(tmp_path, **cfg))


# --------------------------------------------------------------------- 2. results of what was scored
def test_scoring_foreign_predictions_prints_and_writes_their_own_results(tmp_path, capsys, monkeypatch):
    own = run_evaluation(_cfg(tmp_path))
    own_md = (tmp_path / "out" / "results.md").read_text()
    foreign = tmp_path / "foreign"
    shutil.copytree(tmp_path / "out" / "images", foreign)
    for png in foreign.glob("*.png"):  # another method's images: all black
        png.write_bytes((tmp_path / "out" / "visibility" / png.name).read_bytes())
    script = str(REPO / "scripts" / "evaluate.py")
    monkeypatch.setattr(sys, "argv", [script, "stage=score", f"output_dir={tmp_path / 'out'}", f"predictions={foreign}",
                                      "metrics=[psnr]", "progress=false", "device=cpu"])
    runpy.run_path(script, run_name="__main__")  # the script as a user runs it (in-process: cheaper)
    printed = capsys.readouterr().out
    assert f"results: {foreign / 'results.md'}" in printed  # used to print <output_dir>/results.md
    assert (tmp_path / "out" / "results.md").read_text() == own_md  # the folder's own results untouched
    md = (foreign / "results.md").read_text()
    assert md.startswith("# foreign on synthetic")  # not labelled with the default method=genwarp
    meta = json.loads((foreign / "meta.json").read_text())
    assert meta["method"] == "foreign" and meta["predictions"] == str(foreign) and "method_info" not in meta
    summary = json.loads((foreign / "summary.json").read_text())
    assert summary["all"]["psnr"] != own["score"]["summary"]["all"]["psnr"]
    # scoring the folder's own images with this command's default method labels them by their record
    res = run_evaluation(_cfg(tmp_path, method="genwarp", stage="score"))
    assert res["score"]["results_md"] == str(tmp_path / "out" / "results.md")
    assert (tmp_path / "out" / "results.md").read_text().startswith("# warp_only on synthetic")
    # a foreign folder's scores are never written over the evaluation folder's own results
    with pytest.raises(ValueError, match="results belong to its own"):
        run_evaluation(_cfg(tmp_path, stage="score", predictions=str(foreign), results_dir=str(tmp_path / "out")))


# ------------------------------------------------------------------------ 3. malformed inputs
def _index(tmp_path, entries, name="idx.json"):
    path = tmp_path / name
    path.write_text(json.dumps({"format": "genwarp-eval-index/1", "dataset": "synthetic",
                                "dataset_config": json.loads(INDEX.read_text()).get("dataset_config"),
                                "entries": entries}))
    return path


def test_corrupt_and_empty_indices_and_manifests_are_clear_errors(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"entries": [')
    with pytest.raises(ValueError, match=rf"{bad}.*not valid JSON"):
        run_evaluation(_cfg(tmp_path, index=str(bad)))
    empty = _index(tmp_path, [], "empty.json")
    with pytest.raises(ValueError, match=rf"{empty}.*lists no pairs"):  # used to score 0 pairs: NaN metrics
        run_evaluation(_cfg(tmp_path, index=str(empty)))
    frac = _index(tmp_path, [{"scene": "test_0", "src_index": 18.7, "tgt_index": 9, "range": "mid"}], "frac.json")
    with pytest.raises(ValueError, match=r"entry 0 \(scene 'test_0'\) src_index: frame index 18.7 is not an integer"):
        run_evaluation(_cfg(tmp_path, index=str(frac)))  # used to evaluate frame 18
    assert not (tmp_path / "out").exists()

    run_evaluation(_cfg(tmp_path))
    manifest = tmp_path / "out" / "manifest.json"
    manifest.write_text(manifest.read_text()[:40])
    with pytest.raises(ValueError, match=rf"{manifest}.*not valid JSON"):
        run_evaluation(_cfg(tmp_path, stage="score"))
    manifest.write_text(json.dumps({"pairs": [], "index": {}}))
    with pytest.raises(ValueError, match=rf"{manifest} lists no pairs"):
        run_evaluation(_cfg(tmp_path, stage="score"))


def test_index_sampler_and_index_dataset_refuse_fractional_frames(tmp_path):
    from genwarp.data import IndexSampler, PairIndexDataset, SyntheticScenesDataset, load_eval_index

    frac = _index(tmp_path, [{"scene": "test_0", "src_index": 3, "tgt_index": 7.5}], "frac.json")
    with pytest.raises(ValueError, match=r"frac.json: entry 0 \(scene 'test_0'\) tgt_index: frame index 7.5"):
        load_eval_index(frac)
    with pytest.raises(ValueError, match="7.5"):
        IndexSampler([{"scene": "test_0", "src_index": 3, "tgt_index": 7.5}])
    with pytest.raises(ValueError, match="frac.json"):
        PairIndexDataset(SyntheticScenesDataset("test", 16, num_test_scenes=1), frac)
    for bad in ("3", True, -1):
        with pytest.raises(ValueError, match="frame index"):
            IndexSampler([{"scene": "test_0", "src_index": bad, "tgt_index": 4}])
    assert IndexSampler([{"scene": "test_0", "src_index": 3.0, "tgt_index": 4}]).scene_pairs("test_0", [], None) == [(3, 4)]
