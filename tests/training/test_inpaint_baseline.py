"""The SD-inpainting baseline (``baseline=inpaint``, the paper's Table 1 †): its U-Net input is the
one ``StableDiffusionInpaintPipeline`` builds, bad settings are refused naming them, and
scripts/train.py → export → scripts/evaluate.py method=warp_inpaint inpaint.model=<export> runs end
to end with the fine-tuned weights."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from safetensors.torch import load_file
from torch.nn import functional as F

from genwarp.baselines import INFO_FILE, inpaint_conditioning, tiny_inpaint_pipeline
from genwarp.training.config import register_schema
from genwarp.training.inpaint_baseline import train_inpaint_baseline
from genwarp.training.validate import ConfigError

from conftest import REPO, run_train

register_schema()


def _compose(*overrides: str):
    with initialize_config_dir(config_dir=str(REPO / "configs"), version_base="1.3"):
        return compose("train", overrides=list(overrides))


def test_inpaint_input_is_built_as_the_inpaint_pipeline_builds_it():
    pipe = tiny_inpaint_pipeline(seed=0)
    g = torch.Generator().manual_seed(3)
    warped = torch.rand(1, 3, 32, 32, generator=g)
    hole = torch.zeros(1, 1, 32, 32)
    hole[..., 8:20, 4:30] = 1.0  # 1 = hole

    seen = {}
    encode = pipe._encode_vae_image

    def spy(image, generator):
        seen["masked_image"] = image.clone()
        return encode(image, generator)

    pipe._encode_vae_image = spy
    mask, masked_latents = inpaint_conditioning(pipe, warped, hole, torch.Generator().manual_seed(0))
    ours_image = seen.pop("masked_image")
    # mask: 1 in the holes, at the latent resolution (the pipeline's nearest resize)
    assert mask.shape == (1, 1, 16, 16) and set(mask.unique().tolist()) == {0.0, 1.0}
    assert torch.equal(mask, F.interpolate(hole, size=(16, 16)))
    # masked image: the warped view in [-1, 1], exactly 0 in the holes
    assert torch.all(ours_image[hole.expand_as(ours_image) > 0] == 0)
    assert torch.allclose(ours_image[hole.expand_as(ours_image) == 0], (warped * 2 - 1)[hole.expand_as(warped) == 0])
    assert masked_latents.shape == (1, 4, 16, 16)

    # What the pipeline itself feeds its U-Net: [latents (4), mask (1), masked-image latents (4)]
    captured = {}

    def capture(module, args):
        captured.setdefault("x", args[0].clone())  # returns None: the call goes on unchanged

    handle = pipe.unet.register_forward_pre_hook(capture)
    latents = torch.randn(1, 4, 16, 16, generator=torch.Generator().manual_seed(1))
    try:
        pipe(prompt="", image=warped, mask_image=hole, height=32, width=32, num_inference_steps=1,
             guidance_scale=1.0, latents=latents, generator=torch.Generator().manual_seed(0), output_type="pt")
    finally:
        handle.remove()
    assert torch.equal(seen["masked_image"], ours_image)
    x = captured["x"]
    assert x.shape[1] == pipe.unet.config.in_channels == 9
    assert torch.equal(x[:, 4:5], mask)
    assert torch.allclose(x[:, 5:], masked_latents, atol=1e-6)


def test_missing_default_model_and_contradictions_are_one_error_each(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty_cache"))
    cfg = _compose("experiment=baseline_inpaint_synthetic_tiny", f"output_dir={tmp_path / 'a'}",
                   "inpaint_baseline.init=pretrained",
                   "inpaint_baseline.pretrained=stable-diffusion-v1-5/stable-diffusion-inpainting")
    with pytest.raises(ConfigError) as err:
        train_inpaint_baseline(cfg)
    msg = str(err.value)
    assert "stable-diffusion-v1-5/stable-diffusion-inpainting" in msg and "hf download" in msg
    assert "inpaint_baseline.pretrained=DIR" in msg and not (tmp_path / "a").exists()  # nothing built or written

    cfg = _compose("experiment=baseline_inpaint_synthetic_tiny", f"output_dir={tmp_path / 'b'}",
                   "inpaint_baseline.init=scratch", "trainer.condition_dropout=0.1")
    with pytest.raises(ConfigError) as err:  # every problem named in one error
        train_inpaint_baseline(cfg, overrides=["model.codec=vae"])
    for named in ("inpaint_baseline.init='scratch'", "trainer.condition_dropout=0.1",
                  "model.codec=vae (model.* configures GenWarp"):
        assert named in str(err.value)
    # the baseline's keys are refused where GenWarp is trained, and an unknown baseline is named
    from genwarp.training.validate import validate_train_config

    with pytest.raises(ConfigError, match="inpaint_baseline.prompt='room'"):
        validate_train_config(_compose("inpaint_baseline.prompt=room"))
    with pytest.raises(ConfigError, match="baseline='sd'"):
        validate_train_config(_compose("baseline=sd"))


def test_train_export_then_evaluate_with_the_fine_tuned_model(tmp_path):
    run = tmp_path / "run"
    proc = run_train("experiment=baseline_inpaint_synthetic_tiny", f"output_dir={run}", "trainer.max_steps=3",
                     "trainer.checkpoint_every=3", "trainer.validate_every=3", "data.val_pairs=2",
                     "trainer.val_steps=2")
    export = run / "model"
    assert f"exported model: {export}" in proc.stdout
    assert (run / "checkpoints" / "step_00000003" / "trainer_state.json").is_file()
    assert (run / "val" / "step_00000003.png").is_file()
    files = sorted(str(p.relative_to(export)) for p in export.rglob("*") if p.is_file())
    assert "model_index.json" in files and "unet/diffusion_pytorch_model.safetensors" in files
    assert not [f for f in files if f.endswith((".bin", ".pt", ".pth", ".pkl", ".ckpt"))]  # nothing pickled
    info = json.loads((export / INFO_FILE).read_text())
    assert info["step"] == 3 and info["init"] == "random"

    # the export holds the fine-tuned U-Net: the checkpoint's weights, not the initial ones
    exported = load_file(export / "unet" / "diffusion_pytorch_model.safetensors")
    trained = load_file(run / "checkpoints" / "step_00000003" / "model.safetensors")
    initial = tiny_inpaint_pipeline(seed=0).unet.state_dict()
    key = "conv_in.weight"
    assert exported[key].shape[1] == 9 and torch.equal(exported[key], trained[key])
    assert not torch.equal(exported[key], initial[key])

    out = tmp_path / "eval"
    env = dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    cmd = [sys.executable, str(REPO / "scripts" / "evaluate.py"), "method=warp_inpaint", f"inpaint.model={export}",
           "data=synthetic", "data.resolution=32", "limit=2", "metrics=[psnr,ssim]", "device=cpu", "progress=false",
           "inpaint.inpaint_size=32", "inpaint.num_inference_steps=2", f"output_dir={out}"]
    ev = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert ev.returncode == 0, ev.stderr[-3000:]
    assert len(list((out / "images").glob("*.png"))) == 2
    assert json.loads((out / "method.json").read_text())["model"] == str(export)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["all"]["n"] == 2 and summary["all"]["psnr"] > 0


def test_re10k_preset_builds_and_its_loss_runs_on_stand_ins(tmp_path):
    """experiment=baseline_inpaint_re10k with tiny local stand-ins for its downloads (the pipeline,
    the RealEstate10K chunks and the ZoeDepth cache): config checks pass and one loss is finite."""
    from torch.utils.data import default_collate

    from genwarp.baselines import BaselineWarp, encode_prompt, load_inpaint_pipeline
    from genwarp.data.depth_cache import DepthCache
    from genwarp.testing import write_re10k_chunks
    from genwarp.training.datasets import build_dataset
    from genwarp.training.inpaint_baseline import HOLE_KEYS, _check_config, inpaint_baseline_loss

    tiny_inpaint_pipeline(seed=0).save_pretrained(tmp_path / "sd_inpaint")
    cache = DepthCache(tmp_path / "cache")
    for key in write_re10k_chunks(tmp_path / "re10k", split="train")["keys"]:
        for i in range(8):
            cache.save("re10k", key, i, torch.full((18, 32), 2.0) + 0.1 * i)
    cfg = _compose("experiment=baseline_inpaint_re10k", f"output_dir={tmp_path / 'run'}", "logger=none",
                   f"inpaint_baseline.pretrained={tmp_path / 'sd_inpaint'}", f"data.root={tmp_path / 're10k'}",
                   f"depth.cache_root={tmp_path / 'cache'}", "data.resolution=32")
    assert cfg.baseline == "inpaint" and cfg.data.name == "re10k" and cfg.trainer.mixed_precision == "bf16"
    _check_config(cfg, [])
    pipe = load_inpaint_pipeline(cfg.inpaint_baseline.pretrained)
    dataset = build_dataset(cfg.data, cfg.depth, split="train", seed=0, train=True)
    batch = default_collate([next(iter(dataset))])
    warp = BaselineWarp("cpu", **{k: getattr(cfg.inpaint_baseline, k) for k in HOLE_KEYS})
    from diffusers import DDPMScheduler

    with torch.no_grad():
        loss = inpaint_baseline_loss(pipe.unet, pipe.vae, DDPMScheduler.from_config(pipe.scheduler.config),
                                     encode_prompt(pipe, "", torch.device("cpu")), warp, pipe, batch, cfg.trainer,
                                     torch.Generator().manual_seed(0))
    assert torch.isfinite(loss) and loss > 0


@pytest.mark.slow
def test_resume_continues_exactly(tmp_path):
    """4 steps in one go and 2 + 2 with resume=latest (EMA on) export the same U-Net."""
    common = ["experiment=baseline_inpaint_synthetic_tiny", "trainer.checkpoint_every=2", "trainer.validate_every=0",
              "trainer.ema=true"]
    run_train(*common, f"output_dir={tmp_path / 'a'}", "trainer.max_steps=4")
    run_train(*common, f"output_dir={tmp_path / 'b'}", "trainer.max_steps=2")
    run_train(*common, f"output_dir={tmp_path / 'b'}", "trainer.max_steps=4", "resume=latest")
    a = load_file(tmp_path / "a" / "model" / "unet" / "diffusion_pytorch_model.safetensors")
    b = load_file(tmp_path / "b" / "model" / "unet" / "diffusion_pytorch_model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_resume_checks_know_the_baseline_keys():
    """GenWarp run folders written before ``baseline`` existed still resume (the new keys are unread
    there); a baseline run resumed with other baseline settings, or as GenWarp, is refused."""
    import copy

    from omegaconf import OmegaConf

    from genwarp.training.config import TrainConfig
    from genwarp.training.run_folder import resume_config_changes

    genwarp = OmegaConf.structured(TrainConfig(output_dir="x"))
    older = OmegaConf.to_container(genwarp)
    older.pop("baseline"), older.pop("inpaint_baseline")
    assert resume_config_changes(OmegaConf.to_yaml(OmegaConf.create(older)), genwarp) == ([], [])
    baseline = copy.deepcopy(genwarp)
    baseline.baseline = "inpaint"
    changed = copy.deepcopy(baseline)
    changed.inpaint_baseline.hole_filter = "dilate"
    changed.model.num_frequencies = 6  # GenWarp's model group: not read by the baseline
    refused, allowed = resume_config_changes(OmegaConf.to_yaml(baseline), changed)
    assert refused == ["inpaint_baseline.hole_filter: 'luciddreamer' → 'dilate'"]
    assert allowed == ["model.num_frequencies: 2 → 6"]
    assert resume_config_changes(OmegaConf.to_yaml(baseline), genwarp)[0] == ["baseline: 'inpaint' → None"]


def test_a_non_inpainting_unet_is_refused_naming_its_channels(tmp_path):
    from diffusers import StableDiffusionInpaintPipeline, UNet2DConditionModel

    from genwarp.baselines import load_inpaint_pipeline

    pipe = tiny_inpaint_pipeline(seed=0)
    four = UNet2DConditionModel.from_config({**pipe.unet.config, "in_channels": 4})
    StableDiffusionInpaintPipeline(vae=pipe.vae, text_encoder=pipe.text_encoder, tokenizer=pipe.tokenizer, unet=four,
                                   scheduler=pipe.scheduler, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False).save_pretrained(tmp_path / "sd")
    with pytest.raises(ValueError, match="4 input channels, not the 9 of an inpainting U-Net"):
        load_inpaint_pipeline(tmp_path / "sd")
    with pytest.raises(FileNotFoundError, match="no model_index.json"):
        load_inpaint_pipeline(tmp_path / "sd" / "unet")
