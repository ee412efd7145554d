"""Argument validation shared by the geometry modules (private)."""

from __future__ import annotations

from torch import Tensor


def expect_shape(func: str, name: str, t: object, expected: tuple) -> None:
    """Raise ValueError unless ``t`` is a tensor whose shape matches ``expected``.

    ``expected`` entries are ints or strings: ``"B=2"`` checks the value after '=', a bare name such
    as ``"C"`` matches any size. The message names the function, the argument, the shape seen and
    the shape expected, e.g. ``forward_warp: `depth` has shape (2, 3, 8, 8), expected (B=2, 1, H=8, W=8)``.
    """
    if not isinstance(t, Tensor):
        raise TypeError(f"{func}: `{name}` must be a torch.Tensor, got {type(t).__name__}")
    ok = t.ndim == len(expected)
    if ok:
        for got, want in zip(t.shape, expected):
            if isinstance(want, int):
                ok = ok and got == want
            elif "=" in want:
                ok = ok and got == int(want.split("=")[1])
    if not ok:
        want_str = "(" + ", ".join(str(d) for d in expected) + ")"
        raise ValueError(f"{func}: `{name}` has shape {tuple(t.shape)}, expected {want_str}")
