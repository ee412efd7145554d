import math

import numpy as np
import pytest
import torch

from genwarp.evaluation.fid import FIDMetric, to_uint8
from genwarp.evaluation.metrics import psnr, ssim
from genwarp.evaluation.perceptual import LPIPS, LPIPS_TAPS, TappedFeatures, build_lpips
from genwarp.evaluation.suite import MetricSuite, check_metric_names
from genwarp.evaluation.weights import BACKBONE_WEIGHTS, MissingWeightsError, resolve_weights

from evaluation_helpers import TinyFeatures, tiny_lpips


def _images(b=2, h=32, w=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, 3, h, w, generator=g)


# ---------------------------------------------------------------- PSNR
def test_psnr_known_mse_and_per_image_mean():
    target = torch.full((2, 3, 16, 16), 0.5)
    pred = target.clone()
    pred[0] += 0.1  # MSE 0.01 -> 20 dB
    pred[1] += 0.01  # MSE 1e-4 -> 40 dB
    values = psnr(pred, target)
    assert torch.allclose(values, torch.tensor([20.0, 40.0]), atol=1e-4)
    pooled = -10 * math.log10((0.01 + 1e-4) / 2)
    assert abs(values.mean().item() - 30.0) < 1e-4 and abs(pooled - 30.0) > 1  # per image, not pooled


def test_psnr_identical_clip_and_mask():
    x = _images()
    assert torch.allclose(psnr(x, x), torch.full((2,), 100.0))
    assert torch.allclose(psnr(x + 5, torch.ones_like(x)), torch.full((2,), 100.0))  # clipped to [0, 1]
    target = torch.zeros(1, 3, 8, 8)
    pred = target.clone()
    pred[..., :4] = 0.1
    mask = torch.zeros(1, 1, 8, 8)
    mask[..., :4] = 1
    assert torch.allclose(psnr(pred, target, mask), torch.tensor([20.0]), atol=1e-4)
    assert torch.allclose(psnr(pred, target, 1 - mask), torch.tensor([100.0]))
    assert torch.isnan(psnr(pred, target, torch.zeros_like(mask))).all()



def test_psnr_has_one_implementation():
    """Training validation and the quickstart score with genwarp.evaluation.metrics.psnr; no other
    module of the package or the scripts computes a PSNR of its own (log10 of an MSE)."""
    import importlib.util
    from pathlib import Path

    from genwarp.evaluation import metrics
    from genwarp.training import validation

    assert validation.psnr is metrics.psnr
    root = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location("quickstart_under_test", root / "scripts" / "quickstart.py")
    quickstart = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(quickstart)
    assert quickstart.psnr is metrics.psnr
    a, b = _images(1, 8, 8)[0], torch.zeros(3, 8, 8)
    mask = torch.zeros(1, 8, 8)
    mask[:, 2:6] = 1
    assert quickstart.masked_psnr(a, b, mask) == pytest.approx(float(psnr(a[None], b[None], mask[None])[0]))
    own = [str(f.relative_to(root)) for d in ("genwarp", "scripts") for f in sorted((root / d).rglob("*.py"))
           if "log10" in f.read_text() and f != root / "genwarp" / "evaluation" / "metrics.py"]
    assert not own, f"PSNR written again outside genwarp/evaluation/metrics.py: {own}"

def test_metric_errors_name_argument():
    x = _images()
    with pytest.raises(ValueError, match="`target`"):
        psnr(x, x[:, :1])
    with pytest.raises(ValueError, match="`mask`"):
        ssim(x, x, torch.ones(2, 3, 32, 32))


# ---------------------------------------------------------------- SSIM
def test_ssim_identical_is_one_and_masks():
    x = _images()
    assert torch.allclose(ssim(x, x), torch.ones(2), atol=1e-6)
    y = _images(seed=1)
    full = ssim(x, y)
    assert (full < 0.5).all()
    assert torch.allclose(ssim(x, y, torch.ones(2, 1, 32, 32)), full, atol=1e-6)


def test_ssim_matches_torchmetrics():
    tm = pytest.importorskip("torchmetrics.functional")
    x = _images(3, 40, 48)
    y = (x + 0.2 * _images(3, 40, 48, seed=5)).clamp(0, 1)
    ref = tm.structural_similarity_index_measure(y, x, data_range=1.0, reduction="none")
    assert torch.allclose(ssim(y, x), ref, atol=1e-5)



def test_masked_ssim_uses_its_mask():
    """A masked SSIM is the mean of the SSIM map over the masked pixels only: half the image is a
    perfect copy, half is noise, so the two halves score ~1 and < 0.5, and the whole image lies
    between them (a metric that ignores its mask returns the whole-image value for every mask)."""
    from genwarp.evaluation.metrics import ssim_map

    x = _images(2, 32, 32)
    y = x.clone()
    y[..., 16:] = _images(2, 32, 32, seed=7)[..., 16:]  # right half replaced by noise
    left = torch.zeros(2, 1, 32, 32)
    left[..., :10] = 1  # left columns, far (> window radius) from the noise
    right = torch.zeros(2, 1, 32, 32)
    right[..., 22:] = 1
    full = ssim(x, y)
    on_left, on_right = ssim(x, y, left), ssim(x, y, right)
    assert torch.allclose(on_left, torch.ones(2), atol=1e-4)
    assert (on_right < 0.5).all() and (on_right < full - 0.2).all() and (full < on_left - 0.2).all()
    # exactly the masked mean of the map, with a different mask per image
    mask = torch.stack([left[0], right[1]])
    m = ssim_map(x, y)
    expected = torch.stack([m[0][:, :, :10].mean(), m[1][:, :, 22:].mean()])
    assert torch.allclose(ssim(x, y, mask), expected, atol=1e-6)
    assert torch.isnan(ssim(x, y, torch.zeros_like(mask))).all()

# ---------------------------------------------------------------- LPIPS
def test_lpips_identical_zero_and_positive():
    m = tiny_lpips()
    x, y = _images(), _images(seed=1)
    assert torch.allclose(m(x, x), torch.zeros(2), atol=1e-7)
    d = m(x, y)
    assert (d > 0).all()
    assert torch.allclose(m(x, x, torch.ones(2, 1, 32, 32)), torch.zeros(2), atol=1e-7)
    mask = torch.zeros(2, 1, 32, 32)
    mask[..., :16] = 1
    assert torch.isfinite(m(x, y, mask)).all()
    assert torch.allclose(m(x, y, torch.ones(2, 1, 32, 32)), m.spatial(x, y).mean(dim=(1, 2, 3)), atol=1e-6)


def test_lpips_matches_lpips_package():
    lpips = pytest.importorskip("lpips")
    pytest.importorskip("torchvision")
    ref = lpips.LPIPS(net="alex", pretrained=True, pnet_rand=True, verbose=False)
    ours = build_lpips("alex", backbone="random")
    # same backbone weights in both
    features = ours.backbone.features
    for slice_ in (ref.net.slice1, ref.net.slice2, ref.net.slice3, ref.net.slice4, ref.net.slice5):
        for idx, module in slice_.named_children():
            module.load_state_dict(features[int(idx)].state_dict())
    x, y = _images(2, 64, 64), _images(2, 64, 64, seed=3)
    expected = ref(x, y, normalize=True).flatten()
    assert torch.allclose(ours(x, y), expected, rtol=1e-4, atol=1e-6)
    ref_spatial = lpips.LPIPS(net="alex", pretrained=True, pnet_rand=True, spatial=True, verbose=False)
    ref_spatial.load_state_dict(ref.state_dict())
    assert torch.allclose(ours.spatial(x, y), ref_spatial(x, y, normalize=True), rtol=1e-4, atol=1e-6)
    assert ours.name == "lpips_random"


def test_missing_lpips_weights_is_one_clear_error(empty_torch_home):
    with pytest.raises(MissingWeightsError) as err:
        build_lpips("alex", metrics=["psnr", "ssim", "lpips", "fid"])
    msg = str(err.value)
    spec = BACKBONE_WEIGHTS["alex"]
    assert spec.filename in msg and spec.url in msg and "metrics=[psnr,ssim,fid]" in msg


def test_lpips_loads_standard_file_from_torch_home(empty_torch_home):
    torchvision = pytest.importorskip("torchvision")
    pytest.importorskip("lpips")
    ckpt = empty_torch_home / "hub" / "checkpoints"
    ckpt.mkdir(parents=True)
    torch.manual_seed(123)
    features = torchvision.models.alexnet(weights=None).features
    torch.save({f"features.{k}": v for k, v in features.state_dict().items()}, ckpt / BACKBONE_WEIGHTS["alex"].filename)
    m = build_lpips("alex")
    assert m.name == "lpips"
    assert torch.equal(m.backbone.features[0].weight, features[0].weight)
    x = _images(1, 64, 64)
    assert m(x, x).item() == pytest.approx(0.0, abs=1e-7)


def test_resolve_weights_explicit_paths(tmp_path, empty_torch_home):
    f = tmp_path / BACKBONE_WEIGHTS["vgg"].filename
    f.write_bytes(b"x")
    assert resolve_weights("vgg", f) == f
    assert resolve_weights("vgg", tmp_path) == f
    with pytest.raises(ValueError, match="unknown backbone"):
        resolve_weights("resnet")
    assert set(LPIPS_TAPS) == {"alex", "vgg"}


# ---------------------------------------------------------------- FID
def _reference_fid(real: torch.Tensor, fake: torch.Tensor, net) -> float:
    from scipy import linalg

    a = net(to_uint8(real)).detach().double().numpy()
    b = net(to_uint8(fake)).detach().double().numpy()
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


def test_fid_with_injected_extractor():
    pytest.importorskip("torchmetrics")
    pytest.importorskip("scipy")
    net = TinyFeatures()
    fid = FIDMetric(net)
    real, fake = _images(24, 24, 24), _images(24, 24, 24, seed=9) * 0.6
    fid.update(real, real, "same")
    fid.update(real, fake, "diff")
    assert abs(fid.compute("same")) < 1e-4
    assert fid.compute("diff") == pytest.approx(_reference_fid(real, fake, net), rel=1e-3)
    with pytest.warns(UserWarning, match="at least 2"):
        assert math.isnan(fid.compute("missing"))


def test_missing_inception_is_one_clear_error(empty_torch_home):
    with pytest.raises(MissingWeightsError) as err:
        FIDMetric(metrics=["psnr", "fid"])
    msg = str(err.value)
    assert BACKBONE_WEIGHTS["inception"].filename in msg and BACKBONE_WEIGHTS["inception"].url in msg
    assert "metrics=[psnr]" in msg


@pytest.mark.slow
def test_fid_loads_standard_inception_file(empty_torch_home, monkeypatch):
    pytest.importorskip("torch_fidelity")
    pytest.importorskip("torchmetrics")
    import torch_fidelity.feature_extractor_inceptionv3 as fe
    from torchmetrics.image.fid import NoTrainInceptionV3

    with monkeypatch.context() as m:  # a random Inception state dict, saved under the standard name
        m.setattr(fe.FeatureExtractorInceptionV3, "load_state_dict", lambda self, *a, **k: None)
        m.setattr(fe, "load_state_dict_from_url", lambda *a, **k: {})
        state = NoTrainInceptionV3(name="inception-v3-compat", features_list=["2048"]).state_dict()
    ckpt = empty_torch_home / "hub" / "checkpoints"
    ckpt.mkdir(parents=True)
    torch.save(state, ckpt / BACKBONE_WEIGHTS["inception"].filename)
    fid = FIDMetric()
    assert fid.extractor.use_antialias is False
    x = _images(3, 32, 32)
    fid.update(x, x)
    assert abs(fid.compute()) < 1e-3


def test_all_missing_weights_in_one_error(empty_torch_home):
    with pytest.raises(MissingWeightsError) as err:
        MetricSuite.build(["psnr", "ssim", "lpips", "fid"])
    msg = str(err.value)
    for key in ("alex", "inception"):
        assert BACKBONE_WEIGHTS[key].filename in msg and BACKBONE_WEIGHTS[key].url in msg
    assert "metrics=[psnr,ssim]" in msg


# ---------------------------------------------------------------- suite
def test_suite_columns_regions_and_difficulty(tiny_metrics):
    pytest.importorskip("torchmetrics")
    suite = MetricSuite.build(["psnr", "ssim", "lpips", "lpips_vgg", "fid"],
                              lpips_modules=tiny_metrics, fid_extractor=tiny_metrics["fid"])
    x, y, s = _images(2), _images(2, seed=1), _images(2, seed=2)
    vis = torch.ones(2, 1, 32, 32)
    vis[1] = 0
    out = suite.score(x, y, vis, s)
    assert set(out) == set(suite.columns())
    assert torch.isnan(out["psnr_visible"][1]) and torch.isnan(out["lpips_invisible"][0])
    assert out["psnr_visible"][0] == pytest.approx(out["psnr"][0].item(), abs=1e-4)
    suite.update_fid(x, y, ["mid", "long"])
    suite.update_fid(y, x, ["mid", "long"])
    assert set(suite.compute_fid()) == {"all", "mid", "long"}
    with pytest.raises(ValueError, match="unknown metric 'psnrr'"):
        check_metric_names(["psnrr"])
