import pytest
import torch
from diffusers.models.attention_processor import Attention
from torch.utils.data import default_collate

from genwarp.data import SyntheticScenesDataset
from genwarp.evaluation.analysis import analyze_attention, binned_curve, depth_flow
from genwarp.evaluation.attention import AttentionRecorder, RecordingReaderProcessor, record_attention, token_grid
from genwarp.models.reference_attention import ReferenceBank, ReferenceRead, ReferenceReaderProcessor


def test_recorded_probabilities_match_manual_softmax():
    torch.manual_seed(0)
    attn = Attention(query_dim=8, heads=2, dim_head=4)
    recorder = AttentionRecorder(query_points=[(0.0, 0.0)])
    recorder.image_size = (2, 3)
    proc = RecordingReaderProcessor("blk", recorder)
    x, ref = torch.randn(2, 6, 8), torch.randn(1, 6, 8)
    bank = ReferenceBank()
    bank.store("blk", ref)
    read = ReferenceRead.create(bank, [-1, 0])  # item 0 plain, item 1 reads the reference
    out = proc(attn, x, reference=read)
    assert torch.allclose(out, ReferenceReaderProcessor("blk")(attn, x, reference=read), atol=1e-6)
    rec = recorder.records[0]
    assert rec.items.tolist() == [1] and rec.ref_rows.tolist() == [0] and rec.step == 0
    q = attn.to_q(x[1]).view(6, 2, 4).transpose(0, 1)
    k = torch.cat([attn.to_k(x[1]), attn.to_k(ref[0])]).view(12, 2, 4).transpose(0, 1)
    probs = torch.softmax(q @ k.transpose(-1, -2) * attn.scale, dim=-1).mean(0)  # (6, 12)
    assert torch.allclose(rec.source_mass[0], probs[:, 6:].sum(-1), atol=1e-5)
    assert torch.equal(rec.argmax[0], probs[:, 6:].argmax(-1))
    assert torch.allclose(rec.query_maps[0][0][0], probs[0, 6:], atol=1e-5)
    proc(attn, x, reference=read)
    assert recorder.records[1].step == 1


def test_record_attention_restores_processors_and_keeps_outputs():
    from genwarp.pipelines.factory import random_pipeline

    pipe = random_pipeline()
    before = dict(pipe.model.denoiser.attn_processors)
    with pytest.raises(RuntimeError):
        with record_attention(pipe.model):
            assert any(isinstance(p, RecordingReaderProcessor) for p in pipe.model.denoiser.attn_processors.values())
            raise RuntimeError("boom")
    after = pipe.model.denoiser.attn_processors
    assert all(after[k] is before[k] for k in before)


def test_depth_flow_identity_and_token_grid():
    b, h, w = 1, 8, 12
    depth = torch.full((b, 1, h, w), 2.0)
    k = torch.tensor([[[1.0, 0, 0.5], [0, 1.5, 0.5], [0, 0, 1]]])
    flow, cov = depth_flow(depth, k, k, torch.eye(4)[None], (2, 3))
    centres = torch.stack(torch.meshgrid((torch.arange(2) + 0.5) / 2, (torch.arange(3) + 0.5) / 3, indexing="ij")[::-1])
    assert torch.allclose(cov, torch.ones_like(cov)) and torch.allclose(flow[0], centres, atol=1e-5)
    assert token_grid(6, 8, 12) == (2, 3)
    with pytest.raises(ValueError):
        token_grid(7, 8, 8)


def test_analyze_attention_runs_on_tiny_pipeline():
    from genwarp.pipelines.factory import random_pipeline

    pipe = random_pipeline()
    ds = SyntheticScenesDataset("test", 32)
    batch = default_collate([ds.get_pair("test_0", 18, 26), ds.get_pair("test_1", 5, 12)])
    res = analyze_attention(pipe, [batch], num_inference_steps=2, query_points=[(0.5, 0.5)])
    assert len(res["pairs"]) == 2 and {"flow_epe_px", "source_mass_visible"} <= set(res["pairs"][0])
    assert 0 <= res["pairs"][0]["source_mass_visible"] <= 1
    assert res["maps"][0]["maps"][0].shape == (4, 4)
    assert {row["grid"] for row in res["layers"]} >= {"4x4"}


def test_binned_curve():
    bins = binned_curve([0, 1, 2, 3, float("nan")], [1, 1, 3, 3, 5], bins=2)
    assert [b["y_mean"] for b in bins] == [1, 3] and sum(b["n"] for b in bins) == 4


def test_package_exports_resolve():
    """Every lazy export is the object its module defines (and lists in its ``__all__``), unknown
    names raise AttributeError, and ``from genwarp.evaluation import psnr`` imports none of the heavy
    libraries the package docstring promises to keep out of a metrics-only import."""
    import importlib
    import subprocess
    import sys

    import genwarp.evaluation as ev

    assert ev.__all__ == sorted(ev._LAZY) and len(ev.__all__) >= 20
    for name, module_name in ev._LAZY.items():
        module = importlib.import_module(module_name)
        assert getattr(ev, name) is getattr(module, name), name
        assert name in module.__all__, f"{module_name}.__all__ lacks {name}"
    with pytest.raises(AttributeError, match="no_such_export"):
        ev.no_such_export  # noqa: B018
    code = ("import sys; from genwarp.evaluation import psnr, ssim; "
            "print(sorted(m for m in ('diffusers', 'torchmetrics', 'torchvision', 'transformers', 'lpips') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", f"metrics-only import pulled in {out.stdout.strip()}"
