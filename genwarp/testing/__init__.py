"""Tiny on-disk fixtures in the exact formats genwarp reads, for tests and demos (no download).

* :func:`write_re10k_raw`, :func:`write_re10k_chunks`, :func:`write_scannet` — datasets;
* :func:`write_tiny_stable_diffusion` — a Stable-Diffusion-style folder (``unet/``, ``vae/``,
  ``image_encoder/``) with tiny random weights, standing in for sd-image-variations;
* :func:`write_tiny_release` — a tiny random GenWarp in the authors' release layout.
"""

from genwarp.testing.fixtures import (
    write_re10k_chunks,
    write_re10k_raw,
    write_scannet,
    write_tiny_release,
    write_tiny_stable_diffusion,
)

__all__ = [
    "write_re10k_chunks",
    "write_re10k_raw",
    "write_scannet",
    "write_tiny_release",
    "write_tiny_stable_diffusion",
]
