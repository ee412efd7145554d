"""The warp-and-inpaint baseline as the paper reproduces it: LucidDreamer's hole mask (9x9 max then
11x11 min filter of the warped pixels), a default SD-inpainting model id with an offline error
naming it, an optional prompt, compositing — each a knob, checked at start-up."""

import pytest
import torch
from omegaconf import OmegaConf
from torch.utils.data import default_collate

from genwarp.data import SyntheticScenesDataset
from genwarp.evaluation.config import EvaluateConfig, check_config
from genwarp.evaluation.methods import DEFAULT_INPAINT_MODEL, WarpInpaintMethod, require_inpaint_model


class StubInpainter:
    """The diffusers inpainting call signature; returns a constant grey image and records its call."""

    def __init__(self):
        self.calls = []

    def __call__(self, **kw):
        self.calls.append(kw)

        class _Out:
            images = torch.full_like(kw["image"], 0.5)

        return _Out()


@pytest.fixture(scope="module")
def batch():
    ds = SyntheticScenesDataset("test", 32)
    return default_collate([ds.get_pair("test_0", 18, 26), ds.get_pair("test_1", 5, 12)])


def test_luciddreamer_hole_mask_matches_its_filters():
    scipy_ndimage = pytest.importorskip("scipy.ndimage")
    g = torch.Generator().manual_seed(0)
    valid = (torch.rand(1, 1, 48, 64, generator=g) > 0.15).float()
    valid[..., :, 40:] = 0  # a large hole (disocclusion)
    method = WarpInpaintMethod(inpainter=StubInpainter())
    hole = method.hole_mask(valid)
    v = valid[0, 0].numpy()
    keep = scipy_ndimage.minimum_filter(scipy_ndimage.maximum_filter(v, size=(9, 9)), size=(11, 11)) * v
    assert torch.equal(hole[0, 0], torch.from_numpy(1.0 - keep).float())
    # 9x9 grows the warped region 4 px into the big hole, 11x11 erodes it 5 px: its rim loses 1 px
    assert float(hole[0, 0, 6:-6, 39:].min()) == 1.0 and float(hole[0, 0, 6:-6, 38].mean()) < 1.0
    dilate = WarpInpaintMethod(inpainter=StubInpainter(), hole_filter="dilate", mask_dilation=1)
    expected = scipy_ndimage.maximum_filter(1.0 - v, size=(3, 3))
    assert torch.equal(dilate.hole_mask(valid)[0, 0], torch.from_numpy(expected).float())


def test_prompt_and_composite_knobs(batch):
    stub = StubInpainter()
    on = WarpInpaintMethod(inpainter=stub, prompt="a room", inpaint_size=None)
    out = on.generate(batch, [torch.Generator().manual_seed(i) for i in range(2)])
    assert stub.calls[0]["prompt"] == "a room"
    hole = on.hole_mask(out.extras["visibility"]).expand_as(out.images) > 0
    assert torch.equal(out.images[~hole], out.extras["warped"][~hole].clamp(0, 1))
    assert torch.all(out.images[hole] == 0.5)
    off = WarpInpaintMethod(inpainter=StubInpainter(), composite=False, inpaint_size=None)
    assert torch.all(off.generate(batch, [torch.Generator()] * 2).images == 0.5)  # the inpainter's image everywhere
    assert on.describe()["hole_filter"] == "luciddreamer" and on.describe()["hole_min_filter"] == 11


@pytest.mark.parametrize("inpaint, match", [
    ({"mask_dilation": 3}, "mask_dilation is used by inpaint.hole_filter=dilate only"),
    ({"hole_filter": "dilate", "hole_max_filter": 9}, "used by inpaint.hole_filter=luciddreamer only"),
    ({"hole_min_filter": 10}, "odd size"),
    ({"hole_filter": "erode"}, "not one of"),
])
def test_ignored_or_bad_hole_knobs_are_refused_at_start_up(inpaint, match):
    cfg = OmegaConf.merge(OmegaConf.structured(EvaluateConfig), {"method": "warp_inpaint", "inpaint": inpaint})
    with pytest.raises(ValueError, match=match):
        check_config(cfg)


def test_default_model_offline_error_before_any_model_loads(tmp_path, monkeypatch):
    import huggingface_hub.constants

    from genwarp.evaluation import suite
    from genwarp.evaluation.run import run_evaluation

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "empty_hf_cache"))
    assert EvaluateConfig().inpaint.model == DEFAULT_INPAINT_MODEL == "stable-diffusion-v1-5/stable-diffusion-inpainting"
    with pytest.raises(FileNotFoundError) as err:
        require_inpaint_model(DEFAULT_INPAINT_MODEL)
    assert f"hf download {DEFAULT_INPAINT_MODEL}" in str(err.value) and "runwayml/stable-diffusion-inpainting" in str(err.value)

    def boom(*a, **k):
        raise AssertionError("a metric network was built before the inpainting-model check")

    monkeypatch.setattr(suite.MetricSuite, "build", classmethod(lambda cls, *a, **k: boom()))
    cfg = OmegaConf.merge(OmegaConf.structured(EvaluateConfig), dict(
        method="warp_inpaint", data={"name": "synthetic", "resolution": 16}, output_dir=str(tmp_path / "o"),
        device="cpu", progress=False, limit=1))
    with pytest.raises(FileNotFoundError, match="stable-diffusion-v1-5/stable-diffusion-inpainting"):
        run_evaluation(cfg)
    (tmp_path / "folder").mkdir()
    with pytest.raises(FileNotFoundError, match="no model_index.json"):
        require_inpaint_model(tmp_path / "folder")
    assert require_inpaint_model("opencv:telea") == "opencv:telea"
