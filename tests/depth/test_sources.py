"""The depth an evaluation warps with: depth=auto per dataset, every depth key used or refused, and
a depth model's availability checked without loading it."""

import pytest

from genwarp.depth import DepthModelNotFoundError, require_depth_model, resolve_depth_spec


def test_auto_picks_the_methods_depth_per_dataset():
    syn = resolve_depth_spec("synthetic", {"source": "auto"})
    assert syn.source == "gt" and syn.auto
    sn = resolve_depth_spec("scannet", {"source": "auto"})
    assert (sn.source, sn.estimator, sn.scale_alignment) == ("estimator", "zoedepth-nyu", "none")
    assert "visibility masks from the sensor depth" in sn.notes[0] and "depth=gt" in sn.notes[0]
    re = resolve_depth_spec("re10k", {"source": "auto"})
    assert (re.source, re.cache_root, re.scale_alignment) == ("cache", "cache/depth/zoedepth-nyu", "photometric")
    # explicit keys of the group override the chosen source's defaults
    assert resolve_depth_spec("re10k", {"source": "auto", "cache_root": "elsewhere"}).cache_root == "elsewhere"
    assert resolve_depth_spec("scannet", {"source": "auto"}).to_config() == {
        "source": "estimator", "estimator": "zoedepth-nyu", "scale_alignment": "none"}


@pytest.mark.parametrize("data, depth, match", [
    ("scannet", {"source": "gt", "scale_alignment": "photometric"}, "applies to estimated depth"),
    ("re10k", {"source": "gt"}, "needs ground-truth depth"),
    ("scannet", {"source": "corrupted_gt", "corruption": 1.0}, "data=synthetic only"),
    ("synthetic", {"source": "gt", "corruption": 0.5}, "only used with depth.source=corrupted_gt"),
    ("scannet", {"source": "estimator", "scale_alignment": "photometric"}, "precompute an aligned cache"),
    ("re10k", {"source": "estimator", "scale_alignment": "gt_least_squares"}, "data=scannet only"),
    ("scannet", {"source": "estimator", "cache_root": "c"}, "only used with depth.source=cache"),
    ("re10k", {"source": "cache"}, "needs depth.cache_root"),
    ("re10k", {"source": "cache", "cache_root": "c", "scale_alignment": "gt_least_squares"}, "not available"),
    ("scannet", {"source": "gt", "scale_aligment": "none"}, "not a depth setting"),
])
def test_keys_that_would_be_ignored_are_refused(data, depth, match):
    with pytest.raises(ValueError, match=match):
        resolve_depth_spec(data, depth)


def test_unaligned_estimate_on_re10k_is_announced():
    spec = resolve_depth_spec("re10k", {"source": "estimator", "estimator": "zoedepth-nyu", "scale_alignment": "none"})
    assert any(n.startswith("warning:") and "arbitrary scale" in n for n in spec.notes)


def test_require_depth_model_checks_without_loading(tmp_path, monkeypatch, tiny_zoedepth):
    import transformers

    def no_load(*a, **k):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(transformers.AutoModelForDepthEstimation, "from_pretrained", no_load)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DepthModelNotFoundError) as err:
        require_depth_model("zoedepth-nyu", cache_dir=tmp_path)
    msg = str(err.value)
    assert "Intel/zoedepth-nyu" in msg and "hf download Intel/zoedepth-nyu" in msg and "HF_HUB_OFFLINE is set" in msg
    assert require_depth_model(tiny_zoedepth) == str(tiny_zoedepth)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DepthModelNotFoundError, match="has no config.json"):
        require_depth_model(tmp_path / "empty")
    # a cached hub snapshot counts as available
    snap = tmp_path / "models--Intel--zoedepth-nyu" / "snapshots" / "abc"
    snap.mkdir(parents=True)
    (snap / "config.json").write_text("{}")
    (tmp_path / "models--Intel--zoedepth-nyu" / "refs").mkdir()
    (tmp_path / "models--Intel--zoedepth-nyu" / "refs" / "main").write_text("abc")
    assert require_depth_model("zoedepth-nyu", cache_dir=tmp_path).endswith("config.json")
