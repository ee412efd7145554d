"""An MDE-like corruptor for exact depth (for the synthetic noisy-depth benchmark).

Monocular depth estimators are wrong in characteristic ways; :class:`MDECorruptor` reproduces
them on exact depth, all scaled by one ``strength`` knob (0 = exact, 1 ≈ a good off-the-shelf
metric MDE, ~10 % AbsRel; the effect grows linearly in log-depth with strength):

1. **global scale error** — depth × exp(N(0, (0.10·s)²));
2. **global shift** in inverse depth — disparity + N(0, (0.05·s)²)·median(disparity) (an affine
   error in disparity, as scale-and-shift-invariant models make);
3. **smooth low-frequency multiplicative noise** — log-depth + (0.08·s)·(a 4×4 … 8×8 grid of
   N(0, 1) values, bicubically upsampled);
4. **bleeding across depth edges** — log-depth blurred with a Gaussian of σ = (1 % of the
   shorter image side)·s, which leaves smooth surfaces nearly unchanged and smears depth
   discontinuities over several pixels, like the over-smoothed boundaries of MDE outputs.

Deterministic given a ``torch.Generator``. Output keeps the shape, stays positive.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor

__all__ = ["MDECorruptor", "gaussian_blur"]


def gaussian_blur(x: Float[Tensor, "B C H W"], sigma: float) -> Float[Tensor, "B C H W"]:
    """Separable Gaussian blur with reflect padding (identity for sigma <= 0)."""
    if sigma <= 0:
        return x
    r = max(1, int(math.ceil(3 * sigma)))
    r = min(r, x.shape[-1] - 1, x.shape[-2] - 1)
    if r < 1:
        return x
    t = torch.arange(-r, r + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    B, C, H, W = x.shape
    y = x.reshape(B * C, 1, H, W)
    y = F.conv2d(F.pad(y, (r, r, 0, 0), mode="reflect"), k.view(1, 1, 1, -1))
    y = F.conv2d(F.pad(y, (0, 0, r, r), mode="reflect"), k.view(1, 1, -1, 1))
    return y.reshape(B, C, H, W)


class MDECorruptor:
    """Corrupt exact depth like a monocular estimator would (see the module docstring).

    Args:
        strength: the one knob (0 = identity).
        scale_sigma, shift_sigma, lowfreq_sigma, bleed_frac: the per-unit-strength magnitudes
            of the four effects (defaults as documented above).
    """

    def __init__(
        self,
        strength: float = 1.0,
        *,
        scale_sigma: float = 0.10,
        shift_sigma: float = 0.05,
        lowfreq_sigma: float = 0.08,
        bleed_frac: float = 0.01,
    ):
        if strength < 0:
            raise ValueError("strength must be >= 0")
        self.strength = float(strength)
        self.scale_sigma = scale_sigma
        self.shift_sigma = shift_sigma
        self.lowfreq_sigma = lowfreq_sigma
        self.bleed_frac = bleed_frac

    @property
    def name(self) -> str:
        return f"corrupted:{self.strength:g}"

    def __call__(self, depth: Float[Tensor, "B 1 H W"], generator: torch.Generator | None = None) -> Float[Tensor, "B 1 H W"]:
        s = self.strength
        if s == 0:
            return depth.clone()
        B, _, H, W = depth.shape
        dev, dt = depth.device, torch.float32
        d = depth.to(dt)
        valid = torch.isfinite(d) & (d > 0)
        safe = torch.where(valid, d, torch.ones((), dtype=dt, device=dev))

        def randn(*shape: int) -> Tensor:
            return torch.randn(*shape, generator=generator, dtype=dt).to(dev)

        log_d = torch.log(safe)
        # 4. bleeding across edges (blur log-depth; fill invalid pixels with a neighbour value first)
        sigma = self.bleed_frac * min(H, W) * s
        if sigma > 0.3:
            log_d = gaussian_blur(log_d, sigma)
        # 3. low-frequency multiplicative field
        cells = int(torch.randint(4, 9, (1,), generator=generator).item())
        field = F.interpolate(randn(B, 1, cells, cells), size=(H, W), mode="bicubic", align_corners=False)
        log_d = log_d + self.lowfreq_sigma * s * field
        # 1. global scale
        log_d = log_d + self.scale_sigma * s * randn(B, 1, 1, 1)
        out = torch.exp(log_d)
        # 2. global shift in disparity
        disp = 1.0 / out
        med = torch.stack([disp[b][valid[b]].median() if bool(valid[b].any()) else disp.new_tensor(1.0) for b in range(B)]).view(B, 1, 1, 1)
        disp = disp + self.shift_sigma * s * randn(B, 1, 1, 1) * med
        disp = disp.clamp(min=1e-3 * med)
        out = 1.0 / disp
        return torch.where(valid, out, depth.to(dt)).to(depth.dtype)

    def __repr__(self) -> str:
        return f"MDECorruptor(strength={self.strength:g})"
