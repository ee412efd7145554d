"""Reading GenWarp's augmented self-attention: where each target token looks in the source.

:class:`RecordingReaderProcessor` is a :class:`~genwarp.models.reference_attention.ReferenceReaderProcessor`
(same output, computed by the parent) that also recomputes the attention probabilities of the
items that read a reference — queries = target tokens, keys = [target tokens ; source tokens],
softmax per head, then averaged over heads — and hands an :class:`AttentionRecorder` per query:

* ``source_mass``: the attention mass on the source (reference) tokens (the rest is on the target);
* ``argmax``: the source token with the largest attention (the *attention flow*);
* optionally the full source / target attention rows of a few query tokens (attention maps).

:func:`record_attention` installs it on a model's denoiser with ``unet.set_attn_processor`` for the
duration of a ``with`` block and restores the original processors on every exit path; nothing in
``genwarp.models`` changes.

The k-th call of a layer inside the block is denoising step k (one denoiser pass per step).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import torch
from jaxtyping import Float, Int
from torch import Tensor

from genwarp.models.reference_attention import ReferenceReaderProcessor

__all__ = ["AttentionRecord", "AttentionRecorder", "RecordingReaderProcessor", "record_attention", "token_grid"]


def token_grid(num_tokens: int, height: int, width: int) -> tuple[int, int]:
    """(h, w) of a layer's token grid for an image of ``height`` × ``width`` (same aspect)."""
    h = int(round(math.sqrt(num_tokens * height / width)))
    w = num_tokens // max(h, 1)
    if h * w != num_tokens:
        raise ValueError(f"{num_tokens} tokens do not form a grid of aspect {height}:{width}")
    return h, w


@dataclass
class AttentionRecord:
    """One layer at one denoising step, for the items that read a reference."""

    layer: str
    step: int
    items: Int[Tensor, " n"]  # batch positions (in the denoiser batch) of the recorded items
    ref_rows: Int[Tensor, " n"]  # which reference (bank row) each item read
    source_mass: Float[Tensor, "n l"]
    argmax: Int[Tensor, "n l"]  # index of the most attended source token
    peak: Float[Tensor, "n l"] | None = None  # attention on that token (1: a copy of one token; ~1/L: a blur)
    query_maps: dict[int, tuple[Tensor, Tensor]] = field(default_factory=dict)  # query -> (src (n, lr), tgt (n, l))

    @property
    def num_tokens(self) -> int:
        return int(self.source_mass.shape[-1])


class AttentionRecorder:
    """Collects :class:`AttentionRecord` s.

    Args:
        query_points: normalised (x, y) in [0, 1] of target pixels whose full attention rows are kept
            (for attention-map figures), converted per layer to the nearest token.
        steps: denoising steps to record (``None``: all).
        chunk: queries processed at once when recomputing probabilities (bounds memory).
    """

    def __init__(self, query_points: Sequence[tuple[float, float]] = (), steps: Sequence[int] | None = None,
                 chunk: int = 1024):
        self.query_points = [(float(x), float(y)) for x, y in query_points]
        self.steps = None if steps is None else set(int(s) for s in steps)
        self.chunk = int(chunk)
        self.image_size: tuple[int, int] | None = None  # (H, W) of the sampled images: token grid aspect
        self.records: list[AttentionRecord] = []
        self._calls: dict[str, int] = {}

    def next_step(self, layer: str) -> int:
        step = self._calls.get(layer, 0)
        self._calls[layer] = step + 1
        return step

    def wants(self, step: int) -> bool:
        return self.steps is None or step in self.steps

    def clear(self) -> None:
        self.records.clear()
        self._calls.clear()

    def layers(self) -> list[str]:
        return list(dict.fromkeys(r.layer for r in self.records))


class RecordingReaderProcessor(ReferenceReaderProcessor):
    """A reader processor that also reports attention statistics to a recorder."""

    def __init__(self, name: str, recorder: AttentionRecorder):
        super().__init__(name)
        self.recorder = recorder

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None,
                 reference=None):
        out = super().__call__(attn, hidden_states, encoder_hidden_states, attention_mask, temb, reference)
        if reference is None or reference.with_ref.numel() == 0:
            return out
        step = self.recorder.next_step(self.name)
        if self.recorder.wants(step):
            with torch.no_grad():
                self._record(attn, hidden_states, reference, step)
        return out

    def _record(self, attn, hidden_states, reference, step: int) -> None:
        device = hidden_states.device
        sel = reference.with_ref.to(device)
        rows = reference.ref_index.to(device)[sel]
        x = hidden_states[sel]
        n, lq, _ = x.shape
        heads = attn.heads
        k_ref, _ = reference.bank.keys_values(self.name, attn)

        def split(t: Tensor) -> Tensor:  # (n, l, heads*d) -> (n, heads, l, d)
            return t.view(t.shape[0], t.shape[1], heads, -1).transpose(1, 2)

        q, k = split(attn.to_q(x)), split(torch.cat([attn.to_k(x), k_ref[rows].to(x.dtype)], dim=1))
        if attn.norm_q is not None:
            q = attn.norm_q(q)
        if attn.norm_k is not None:
            k = attn.norm_k(k)
        grid = token_grid(lq, *(self.recorder.image_size or (1, 1))) if self.recorder.query_points else None
        mass, arg, peak = [], [], []
        maps: dict[int, list[Tensor]] = {}
        q_tokens = self._query_tokens(grid) if grid else []
        for start in range(0, lq, self.recorder.chunk):
            qc = q[:, :, start : start + self.recorder.chunk].float()
            probs = torch.softmax(qc @ k.float().transpose(-1, -2) * attn.scale, dim=-1).mean(dim=1)  # (n, c, 2l)
            src = probs[..., lq:]
            mass.append(src.sum(-1))
            top = src.max(-1)
            arg.append(top.indices)
            peak.append(top.values)
            for qi, tok in enumerate(q_tokens):
                if start <= tok < start + qc.shape[2]:
                    maps[qi] = [src[:, tok - start].cpu(), probs[:, tok - start, :lq].cpu()]
        self.recorder.records.append(AttentionRecord(
            layer=self.name, step=step, items=sel.cpu(), ref_rows=rows.cpu(),
            source_mass=torch.cat(mass, dim=1).cpu(), argmax=torch.cat(arg, dim=1).cpu(),
            peak=torch.cat(peak, dim=1).cpu(), query_maps={i: (m[0], m[1]) for i, m in maps.items()}))

    def _query_tokens(self, grid: tuple[int, int]) -> list[int]:
        h, w = grid
        return [min(int(y * h), h - 1) * w + min(int(x * w), w - 1) for x, y in self.recorder.query_points]


@contextlib.contextmanager
def record_attention(model, recorder: AttentionRecorder | None = None,
                     image_size: tuple[int, int] | None = None) -> Iterator[AttentionRecorder]:
    """Install :class:`RecordingReaderProcessor` on ``model.denoiser`` for the block.

    ``image_size`` (height, width) gives the token grids' aspect (default square).
    """
    recorder = recorder if recorder is not None else AttentionRecorder()
    recorder.image_size = image_size
    unet = model.denoiser
    original = dict(unet.attn_processors)  # set_attn_processor consumes the dict it is given: pass copies
    swapped = {k: RecordingReaderProcessor(p.name, recorder) if isinstance(p, ReferenceReaderProcessor) else p
               for k, p in original.items()}
    if not any(isinstance(p, RecordingReaderProcessor) for p in swapped.values()):
        raise ValueError("the model's denoiser has no ReferenceReaderProcessor to record")
    unet.set_attn_processor(swapped)
    try:
        yield recorder
    finally:
        unet.set_attn_processor(dict(original))
