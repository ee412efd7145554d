"""seed_mode=release: seed=s starts every pair from the noise the release demo draws after
torch.manual_seed(s) (the second of two global draws), checked against the release's own recorded
noise (tests/goldens/release_tiny, seed 2024)."""

import numpy as np
import pytest
import torch
from torch.utils.data import default_collate

from genwarp.data import SyntheticScenesDataset
from genwarp.evaluation.methods import GenWarpMethod, release_initial_noise


def test_release_noise_is_the_second_global_draw(golden_file):
    g = np.load(golden_file("release_tiny/golden_A.npz"))
    seed, init = int(g["seed"]), torch.from_numpy(g["init_noise"])
    assert seed == 2024
    assert torch.equal(release_initial_noise(seed, tuple(init.shape)), init)  # the release's own tensor, bit-exact
    assert not torch.equal(torch.from_numpy(g["dummy_latents"]), init)
    torch.manual_seed(seed)  # and what the global generator gives
    dummy = torch.randn(tuple(init.shape))
    assert torch.equal(torch.randn_like(dummy), init)


def _capture(method):
    seen = []
    call = method.pipeline.__class__.__call__

    def spy(self, *a, latents=None, **k):
        seen.append(latents.clone())
        return call(self, *a, latents=latents, **k)

    return seen, spy


def test_genwarp_method_release_seed_mode(monkeypatch):
    from genwarp.pipelines.factory import random_pipeline

    ds = SyntheticScenesDataset("test", 32)
    batch = default_collate([ds.get_pair("test_0", 18, 26), ds.get_pair("test_1", 5, 12)])
    gens = [torch.Generator().manual_seed(i) for i in range(2)]
    pipe = random_pipeline()
    method = GenWarpMethod(pipe, num_inference_steps=1, seed_mode="release", seed=7)
    seen, spy = _capture(method)
    monkeypatch.setattr(pipe.__class__, "__call__", spy)
    method.generate(batch, gens)
    shape = (1, pipe.model.latent_channels, 32 // pipe.vae_scale_factor, 32 // pipe.vae_scale_factor)
    expected = release_initial_noise(7, shape)
    assert torch.equal(seen[0][0:1], expected) and torch.equal(seen[0][1:2], expected)
    assert method.describe()["seed_mode"] == "release" and method.describe()["seed"] == 7
    GenWarpMethod(pipe, num_inference_steps=1).generate(batch, gens)  # per-pair (default): the generators' draws
    assert torch.equal(seen[1][0:1], torch.randn(shape, generator=torch.Generator().manual_seed(0)))
    with pytest.raises(ValueError, match="seed_mode"):
        GenWarpMethod(pipe, seed_mode="global")


def test_unknown_seed_mode_refused_at_start_up(tmp_path):
    from omegaconf import OmegaConf

    from genwarp.evaluation.config import EvaluateConfig, check_config

    cfg = OmegaConf.merge(OmegaConf.structured(EvaluateConfig), {"method": "warp_only", "sampler": {"seed_mode": "demo"}})
    with pytest.raises(ValueError, match="sampler.seed_mode='demo'"):
        check_config(cfg)
