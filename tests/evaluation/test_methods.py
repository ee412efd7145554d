import pytest
import torch
from torch.utils.data import default_collate

from genwarp.data import SyntheticScenesDataset
from genwarp.evaluation.methods import (
    GenWarpMethod,
    OracleMethod,
    WarpInpaintMethod,
    WarpOnlyMethod,
    build_method,
    fill_missing_depth,
    zbuffer_depth,
)
from genwarp.evaluation.metrics import psnr

from evaluation_helpers import tiny_inpaint_pipeline


@pytest.fixture(scope="module")
def batch():
    ds = SyntheticScenesDataset("test", 32)
    return default_collate([ds.get_pair("test_0", 18, 26), ds.get_pair("test_1", 5, 12)])


def _gens(n, seed=0):
    return [torch.Generator().manual_seed(seed + i) for i in range(n)]


def test_oracle_and_registry(batch):
    out = OracleMethod().generate(batch, _gens(2))
    assert torch.equal(out.images, batch["tgt_image"])
    with pytest.raises(ValueError, match="unknown method 'magic'"):
        build_method("magic")


def test_warp_only_matches_target_where_visible(batch):
    out = WarpOnlyMethod().generate(batch, _gens(2))
    vis = out.extras["visibility"]
    assert out.images.shape == batch["tgt_image"].shape
    assert (out.images * (1 - vis)).abs().max() == 0  # holes black
    assert (psnr(out.images, batch["tgt_image"], vis) > 25).all()


def test_inverse_warp_with_occlusion_filtering(batch):
    method = WarpInpaintMethod(inpainter=object())
    warped, valid = method.warp(batch)
    assert 0.3 < valid.mean() < 1.0
    assert (psnr(warped, batch["tgt_image"], valid) > 25).all()
    # identity motion: z-buffered depth reproduces the source depth and everything is valid
    ident = dict(batch)
    ident["tgt_c2w"], ident["tgt_intrinsics"] = batch["src_c2w"], batch["src_intrinsics"]
    d, covered = zbuffer_depth(batch["src_depth"], batch["src_intrinsics"], batch["src_intrinsics"],
                               torch.eye(4).expand(2, 4, 4).contiguous())
    assert covered.min() == 1 and torch.allclose(d, batch["src_depth"], rtol=1e-4)
    warped, valid = method.warp(ident)
    assert valid.mean() > 0.99 and (psnr(warped, batch["src_image"]) > 40).all()


def test_warp_inpaint_with_tiny_pipeline(batch, tmp_path):
    pipe = tiny_inpaint_pipeline(tmp_path / "tok")
    pipe.save_pretrained(tmp_path / "inpaint")
    method = WarpInpaintMethod(model=tmp_path / "inpaint", num_inference_steps=2, inpaint_size=32)  # real loading path
    out = method.generate(batch, _gens(2))
    again = method.generate(batch, _gens(2))
    assert out.images.shape == batch["tgt_image"].shape and torch.allclose(out.images, again.images)
    valid = out.extras["visibility"]
    keep = method.hole_mask(valid) == 0  # outside the hole mask the warped pixels are kept exactly
    assert torch.equal(out.images[keep.expand_as(out.images)], out.extras["warped"][keep.expand_as(out.images)])
    with pytest.raises(FileNotFoundError, match="inpaint.model"):
        WarpInpaintMethod(model=tmp_path / "nowhere")


def test_genwarp_method_from_export_is_batch_independent(batch, tmp_path):
    from genwarp.pipelines.factory import random_pipeline

    random_pipeline().save_pretrained(tmp_path / "export")
    method = GenWarpMethod(checkpoint=tmp_path / "export", num_inference_steps=2)
    both = method.generate(batch, _gens(2))
    first = method.generate({k: v[:1] for k, v in batch.items()}, _gens(1))
    assert both.images.shape == batch["tgt_image"].shape
    assert torch.allclose(both.images[:1], first.images, atol=1e-4)
    assert set(both.extras) == {"warped", "visibility"}
    with pytest.raises(ValueError, match="exactly one of"):
        GenWarpMethod()


def test_fill_missing_depth():
    d = torch.full((1, 1, 8, 8), 2.0)
    d[..., 2:5, 2:5] = 0
    f = fill_missing_depth(d)
    assert (f > 0).all() and torch.allclose(f, torch.full_like(f, 2.0))


def test_genwarp_method_unknown_depth_and_release(batch, golden_file):
    release = golden_file("release_tiny/checkpoints/tiny").parent
    method = GenWarpMethod(release_root=release, release_variant="tiny", num_inference_steps=2)
    holes = dict(batch)
    holes["src_depth_valid"] = batch["src_depth_valid"].clone()
    holes["src_depth_valid"][..., :4, :] = False  # a band of unknown depth
    out = method.generate(holes, _gens(2))
    assert out.images.shape == batch["tgt_image"].shape and torch.isfinite(out.images).all()
    assert method.describe()["warp_importance"] == "release"


def test_warp_inpaint_with_opencv_inpainter(batch):
    method = WarpInpaintMethod(model="opencv:telea", inpaint_size=None)
    out = method.generate(batch, _gens(2))
    warped, valid = method.warp(batch)
    assert out.images.shape == batch["tgt_image"].shape
    hole = torch.nn.functional.max_pool2d(1 - valid, 5, 1, 2) > 0
    assert (out.images[hole.expand_as(out.images)] > 0).float().mean() > 0.5  # holes filled, not black
    assert method.describe()["model"] == "opencv:telea"
