"""Generation: batched views share one reference pass per call and do not depend on --max-batch;
the autoregressive mode re-anchors on generated views with scale-aligned estimated depth."""

from __future__ import annotations

import torch

from genwarp.depth import DepthEstimator
from genwarp.inference import (
    generate_autoregressive,
    generate_views,
    intrinsics_from_fov,
    prepare_source,
    preset_path,
    warp_depth,
)
from genwarp.inference.cameras import camera_pose

RES = 32


def _source(seed=0):
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(3, RES, RES, generator=g)
    depth = 2.0 + torch.rand(1, RES, RES, generator=g)
    return prepare_source(image, intrinsics_from_fov(60.0, RES, RES), RES, RES, depth)


class CountingPreserver:
    """Counts semantic-preserver passes (reference writes) of a pipeline's model."""

    def __init__(self, model):
        self.calls = 0
        self.model = model
        self.original = model.write_reference

    def __enter__(self):
        def wrapped(*a, **k):
            self.calls += 1
            return self.original(*a, **k)

        self.model.write_reference = wrapped
        return self

    def __exit__(self, *exc):
        del self.model.write_reference


def test_views_do_not_depend_on_max_batch_and_share_one_reference_pass_per_call(tiny_pipe):
    src = _source()
    path = preset_path("orbit", 4, src.intrinsics, scene_scale=2.5, angle=10)
    with CountingPreserver(tiny_pipe.model) as count:
        one_call = generate_views(tiny_pipe, src, path, steps=2, seed=3, progress=False)
    assert count.calls == 1  # one reference pass for the whole path
    with CountingPreserver(tiny_pipe.model) as count:
        chunked = generate_views(tiny_pipe, src, path, steps=2, seed=3, max_batch=3, progress=False)
    assert count.calls == 2  # one per call (3 + 1 views)
    assert one_call.images.shape == (4, 3, RES, RES) and one_call.visibility.shape == (4, 1, RES, RES)
    assert torch.allclose(one_call.images, chunked.images, atol=1e-4)
    assert torch.equal(one_call.warped, chunked.warped)
    assert one_call.anchors == [-1] * 4
    other_seed = generate_views(tiny_pipe, src, path, steps=2, seed=4, progress=False)
    assert not torch.allclose(one_call.images, other_seed.images, atol=1e-3)


def test_warp_depth_of_the_identity_is_the_depth_itself():
    src = _source(1)
    eye = torch.eye(4)[None]
    warped, ok = warp_depth(src.depth[None], src.depth_mask[None], src.intrinsics[None], src.intrinsics[None], eye)
    assert ok.float().mean() > 0.99
    assert torch.allclose(warped[ok], src.depth[None][ok], rtol=2e-3)  # float32 projection round-off
    forward = camera_pose(forward=0.5).float().inverse()[None]  # camera 0.5 closer: z shrinks by 0.5
    warped, ok = warp_depth(src.depth[None], src.depth_mask[None], src.intrinsics[None], src.intrinsics[None], forward)
    centre = warped[0, 0, RES // 2 - 2 : RES // 2 + 2, RES // 2 - 2 : RES // 2 + 2]
    assert centre.min() > 1.4 and centre.max() < 2.6


class ScaledEstimator(DepthEstimator):
    """A fake monocular estimator: the right shape, but 10× the source's units."""

    name, units = "fake", "metric"

    def __init__(self):
        self.calls = 0

    def estimate(self, images, *, batch=None):
        self.calls += 1
        return torch.full((images.shape[0], 1, *images.shape[-2:]), 25.0)


def test_autoregressive_reanchors_every_segment_and_aligns_the_depth_scale(tiny_pipe):
    src = _source(2)
    path = preset_path("dolly", 7, src.intrinsics, scene_scale=2.5, distance=1.4)
    est = ScaledEstimator()
    res = generate_autoregressive(tiny_pipe, src, path, est, segment=3, steps=1, progress=False)
    assert res.images.shape == (7, 3, RES, RES)
    assert res.anchors == [-1, -1, -1, 2, 2, 2, 5]
    assert est.calls == 2 and sorted(res.anchor_depths) == [2, 5]
    # the 25 m estimate is rescaled to the previous anchor's depth seen from the new anchor:
    # the source is 2–3 away and the camera moved 0.6 forward, so about 1.4–2.4, not 25
    d2 = res.anchor_depths[2]
    assert 1.2 < float(d2.median()) < 2.6
    raw = generate_autoregressive(tiny_pipe, src, path, ScaledEstimator(), segment=3, steps=1,
                                  align_scale=False, progress=False)
    assert float(raw.anchor_depths[2].median()) == 25.0
    # views of the first segment are exactly the batched ones (same seed, same anchor)
    batched = generate_views(tiny_pipe, src, path.slice(0, 3), steps=1, progress=False)
    assert torch.allclose(res.images[:3], batched.images, atol=1e-4)
