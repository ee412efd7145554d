import pytest
import torch

from genwarp.depth import CorruptedDepth, GroundTruthDepth, MDECorruptor, build_depth_estimator


def step_depth() -> torch.Tensor:
    d = torch.full((1, 1, 48, 64), 2.0)
    d[..., 32:] = 6.0
    return d


def test_corruptor_identity_deterministic_and_monotone():
    d = step_depth()
    torch.testing.assert_close(MDECorruptor(0.0)(d), d)
    a = MDECorruptor(1.0)(d, torch.Generator().manual_seed(0))
    b = MDECorruptor(1.0)(d, torch.Generator().manual_seed(0))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert bool((a > 0).all()) and a.shape == d.shape
    errs = []
    for s in (0.25, 1.0, 3.0):
        e = torch.stack([(MDECorruptor(s)(d, torch.Generator().manual_seed(k)).log() - d.log()).abs().mean() for k in range(8)]).mean()
        errs.append(float(e))
    assert errs[0] < errs[1] < errs[2]


def test_corruptor_bleeds_across_depth_edges():
    d = step_depth()
    c = MDECorruptor(2.0, scale_sigma=0, shift_sigma=0, lowfreq_sigma=0)(d, torch.Generator().manual_seed(0))
    row = c[0, 0, 24]
    assert float(row[:20].std()) < 1e-4 and float(row[44:].std()) < 1e-4  # flat away from the edge
    assert 2.1 < float(row[31]) < 5.9 and 2.1 < float(row[32]) < 5.9  # smeared at the edge


def test_ground_truth_and_corrupted_sources():
    batch = {"src_depth": step_depth(), "src_depth_valid": torch.ones(1, 1, 48, 64, dtype=torch.bool)}
    images = torch.rand(1, 3, 48, 64)
    gt = build_depth_estimator("gt")
    assert isinstance(gt, GroundTruthDepth)
    torch.testing.assert_close(gt.estimate(images, batch=batch), batch["src_depth"])
    with pytest.raises(ValueError, match="batch"):
        gt.estimate(images)
    with pytest.raises(ValueError, match="no valid"):
        gt.estimate(images, batch={**batch, "src_depth_valid": torch.zeros(1, 1, 48, 64, dtype=torch.bool)})
    noisy = build_depth_estimator("gt+corrupted:1.5")
    assert isinstance(noisy, CorruptedDepth)
    out = noisy.estimate(images, batch=batch)
    assert out.shape == (1, 1, 48, 64) and not torch.equal(out, batch["src_depth"])
