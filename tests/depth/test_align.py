import math

import pytest
import torch
from torch.utils.data import default_collate

from genwarp.data import SyntheticScenesDataset
from genwarp.depth import aggregate_scales, least_squares_scale, photometric_scale_search


def _batch():
    ds = SyntheticScenesDataset("test", 48, num_test_scenes=4)
    return default_collate([ds.get_pair(f"test_{i}", 4, 13) for i in range(3)])


def test_photometric_search_recovers_known_scale():
    b = _batch()
    true = torch.tensor([0.25, 1.0, 3.0])
    fit = photometric_scale_search(b["src_image"], b["tgt_image"], b["src_depth"] / true.view(-1, 1, 1, 1), b["src_intrinsics"], b["tgt_intrinsics"],
                                   b["src_c2w"], b["tgt_c2w"], num_scales=25, refine_steps=2, refine_points=7, max_side=None)
    ratio = fit.scale / true
    assert bool(((ratio - 1).abs() < 0.05).all()), ratio
    assert bool(fit.reliable.all())
    rec = fit.records()
    assert set(rec[0]) >= {"scale", "residual", "coverage", "contrast", "reliable"}
    assert fit.curve.shape == (3, 25)
    agg = aggregate_scales(rec[:2] + [dict(rec[0], scale=rec[0]["scale"] * 1.01)])
    assert agg["num_pairs"] == 3 and agg["scale"] == pytest.approx(rec[0]["scale"], rel=0.02)


def test_pure_rotation_is_flagged_unreliable():
    from genwarp.data import generate_scene, render_views

    scene = generate_scene(7)
    a = 0.12
    R = torch.tensor([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
    c2w = scene.c2w[[0, 0]].clone()
    c2w[1, :3, :3] = c2w[0, :3, :3] @ R
    K = scene.intrinsics(40, 40)[None].expand(2, 3, 3)
    img, depth = render_views(scene, c2w, K, 40, 40)
    fit = photometric_scale_search(img[:1], img[1:], depth[:1], K[:1], K[1:], c2w[:1], c2w[1:], num_scales=13, refine_steps=0, max_side=None)
    assert not bool(fit.reliable[0]) and float(fit.contrast[0]) < 0.05


def test_least_squares_scale():
    d = torch.rand(2, 1, 8, 8) + 0.5
    ref = d * torch.tensor([2.0, 0.5]).view(2, 1, 1, 1)
    valid = torch.ones_like(d, dtype=torch.bool)
    valid[1, 0, :4] = False
    torch.testing.assert_close(least_squares_scale(d, ref, valid), torch.tensor([2.0, 0.5]))
