"""The training forward: v-prediction loss on the zero-terminal-SNR schedule with condition dropout."""

from __future__ import annotations

import pytest
import torch

from genwarp.geometry import fov_to_intrinsics
from genwarp.models import GenWarpObjective, training_noise_scheduler
from genwarp.pipelines.factory import random_pipeline


def _batch(b=2, seed=0, size=64):
    g = torch.Generator().manual_seed(seed)
    K = fov_to_intrinsics(torch.full((b,), 0.9), 1.0)
    c2w = torch.eye(4).repeat(b, 1, 1)
    tgt = c2w.clone()
    tgt[:, 0, 3] = 0.2
    return dict(src_image=torch.rand(b, 3, size, size, generator=g), tgt_image=torch.rand(b, 3, size, size, generator=g),
                src_depth=1 + torch.rand(b, 1, size, size, generator=g), src_intrinsics=K, tgt_intrinsics=K,
                src_c2w=c2w, tgt_c2w=tgt)


@pytest.fixture(scope="module")
def parts():
    p = random_pipeline(seed=21)
    return p.model, p.codec, p.image_encoder


def test_schedule_is_zero_terminal_snr_v_prediction():
    s = training_noise_scheduler()
    assert s.alphas_cumprod[-1] == 0 and s.config.prediction_type == "v_prediction"


def test_loss_is_finite_and_reaches_every_trainable_module(parts):
    model, codec, clip = parts
    objective = GenWarpObjective(model, codec, clip, condition_dropout=0.0)
    model.zero_grad()
    out = objective(_batch(), generator=torch.Generator().manual_seed(0))
    assert out.loss.ndim == 0 and torch.isfinite(out.loss) and out.loss_per_item.shape == (2,)
    out.loss.backward()
    for prefix in ("preserver.", "denoiser.", "condition_encoder."):
        grads = [p.grad for n, p in model.named_parameters() if n.startswith(prefix) and p.grad is not None]
        assert grads and any(g.abs().sum() > 0 for g in grads), prefix
    assert all(p.grad is None for p in codec.parameters()) and all(p.grad is None for p in clip.parameters())


def test_same_generator_same_loss_and_dropout_changes_it(parts):
    model, codec, clip = parts
    objective = GenWarpObjective(model, codec, clip, condition_dropout=0.0)
    a = objective(_batch(), generator=torch.Generator().manual_seed(5))
    b = objective(_batch(), generator=torch.Generator().manual_seed(5))
    assert torch.equal(a.loss, b.loss) and torch.equal(a.timesteps, b.timesteps)
    dropping = GenWarpObjective(model, codec, clip, condition_dropout=1.0)
    c = dropping(_batch(), generator=torch.Generator().manual_seed(5))
    assert c.dropped.all() and not a.dropped.any()
    assert torch.equal(a.timesteps, c.timesteps) and not torch.allclose(a.loss, c.loss)


def test_loss_matches_a_hand_computed_v_target(parts):
    model, codec, clip = parts
    objective = GenWarpObjective(model, codec, clip, condition_dropout=0.0)
    batch = _batch(b=1)
    gen = torch.Generator().manual_seed(9)
    out = objective(batch, generator=gen)
    inputs = objective.prepare(batch)
    gen = torch.Generator().manual_seed(9)
    noise = torch.randn(inputs["latents"].shape, generator=gen)
    t = torch.randint(0, 1000, (1,), generator=gen)
    ac = objective.noise_scheduler.alphas_cumprod[t].view(-1, 1, 1, 1)
    x0 = inputs["latents"]
    noisy = ac.sqrt() * x0 + (1 - ac).sqrt() * noise
    v = ac.sqrt() * noise - (1 - ac).sqrt() * x0
    with torch.no_grad():
        pred = model(noisy, t, inputs["ref_latents"], inputs["src_condition"], inputs["tgt_condition"],
                     inputs["image_prompt"])
    torch.testing.assert_close(out.loss.detach(), ((pred - v) ** 2).mean(), atol=1e-5, rtol=1e-5)


def test_min_snr_weights_keep_the_high_noise_steps_trained(parts):
    model, codec, clip = parts
    objective = GenWarpObjective(model, codec, clip, snr_gamma=5.0)
    t = torch.tensor([0, 500, 900, 999])
    w = objective.loss_weights(t)
    ac = objective.alphas_cumprod[t]
    snr = ac / (1 - ac)
    torch.testing.assert_close(w, torch.minimum(snr + 1, torch.tensor(5.0)) / (snr + 1))
    # The first sampling steps (t ≥ 900) carry full weight; only low-noise steps are capped.
    assert w[-1] == 1.0 and w[2] > 0.99 and w[0] < 0.01
    assert torch.all(objective.loss_weights(torch.arange(1000)) > 0)
    assert torch.equal(GenWarpObjective(model, codec, clip).loss_weights(t), torch.ones(4))



def test_loss_applies_the_min_snr_weights(parts):
    """The scalar loss is the min-SNR-weighted mean of the per-item MSE, not just its mean: the same
    batch, noise and timesteps with and without ``snr_gamma`` give the same per-item MSE, and the
    loss equals a weighted mean whose weights are computed here from the schedule."""
    model, codec, clip = parts
    # Low-noise timesteps (t < 50, snr + 1 > γ): their weights are far below 1.
    kw = dict(condition_dropout=0.0, timestep_bias_strategy="earlier", timestep_bias_multiplier=1e9,
              timestep_bias_portion=0.05)
    uniform = GenWarpObjective(model, codec, clip, **kw)
    weighted = GenWarpObjective(model, codec, clip, snr_gamma=5.0, **kw)
    batch = _batch(b=3, seed=4)
    with torch.no_grad():
        a = uniform(batch, generator=torch.Generator().manual_seed(11))
        b = weighted(batch, generator=torch.Generator().manual_seed(11))
    assert torch.equal(a.timesteps, b.timesteps) and (b.timesteps < 50).all()
    torch.testing.assert_close(a.loss_per_item, b.loss_per_item, atol=0, rtol=0)
    torch.testing.assert_close(a.loss, a.loss_per_item.mean(), atol=1e-7, rtol=1e-6)
    ac = training_noise_scheduler().alphas_cumprod.double()[b.timesteps]
    snr = ac / (1 - ac)
    w = torch.clamp(snr + 1, max=5.0) / (snr + 1)  # v-prediction form
    assert (w < 0.5).all()
    expected = (b.loss_per_item.double() * w).mean()
    torch.testing.assert_close(b.loss.double(), expected, atol=1e-7, rtol=1e-5)
    assert b.loss < 0.5 * a.loss

def test_noise_offset_changes_the_noise_and_nothing_else(parts):
    model, codec, clip = parts
    plain = GenWarpObjective(model, codec, clip, condition_dropout=0.0)
    offset = GenWarpObjective(model, codec, clip, condition_dropout=0.0, noise_offset=0.1)
    a = plain(_batch(), generator=torch.Generator().manual_seed(3))
    b = offset(_batch(), generator=torch.Generator().manual_seed(3))
    assert not torch.allclose(a.loss, b.loss)
    # The offset draw comes after the noise draw: timesteps and dropout follow the same stream
    # only when no offset is drawn, so compare the noise directly.
    seen = []
    orig = offset.noise_scheduler.add_noise
    offset.noise_scheduler.add_noise = lambda x, n, t: seen.append(n) or orig(x, n, t)
    try:
        offset(_batch(), generator=torch.Generator().manual_seed(3))
    finally:
        offset.noise_scheduler.add_noise = orig
    g = torch.Generator().manual_seed(3)
    base = torch.randn(seen[0].shape, generator=g)
    delta = seen[0] - base
    assert delta.abs().max() > 0
    # A per-(item, channel) constant: the offset is spatially uniform.
    torch.testing.assert_close(delta, delta[..., :1, :1].expand_as(delta))


def test_bad_batches_and_settings_are_named(parts):
    model, codec, clip = parts
    with pytest.raises(ValueError, match="condition_dropout"):
        GenWarpObjective(model, codec, clip, condition_dropout=1.5)
    with pytest.raises(ValueError, match="image_encoder"):
        GenWarpObjective(model, codec, None)
    objective = GenWarpObjective(model, codec, clip)
    batch = _batch()
    del batch["src_depth"]
    with pytest.raises(KeyError, match="src_depth"):
        objective(batch)
