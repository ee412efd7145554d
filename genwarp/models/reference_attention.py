"""Reference (cross-view) attention through diffusers attention processors.

GenWarp's two streams talk through the self-attention layers (release-spec §10):

* the **semantic preserver** U-Net runs once on the source view; in every transformer block the
  input of the self-attention (``norm1`` output, ``L`` tokens) is banked under the block's module
  path (``ReferenceWriterProcessor``);
* the **denoiser** U-Net's self-attention becomes *augmented* self-attention: queries from the
  target tokens, keys/values from ``[target tokens ; reference tokens of the same block path]``,
  through the denoiser's own ``to_k``/``to_v`` (``ReferenceReaderProcessor``).

Per-call data travels explicitly through ``cross_attention_kwargs={"reference": ...}``: a
:class:`ReferenceBank` for the preserver pass, a :class:`ReferenceRead` (bank + which bank row each
denoiser item reads, ``-1`` for none) for the denoiser. Nothing is stored on the processors, so a
bank lives exactly as long as its caller keeps it: :func:`reference_bank` clears it on exit. It is
also what makes gradient checkpointing safe, since the recomputed blocks receive the same objects.

Reference keys/values are projected once per bank and reused by every denoising step and every
target view (the projection is linear per token, so ``to_k([x ; r]) = [to_k(x) ; to_k(r)]``).

Speed (docs/performance.md): every processor also runs on fused projections (``attn.to_qkv`` /
``attn.to_kv`` after ``Attention.fuse_projections()``, see :func:`genwarp.perf.fuse_qkv`); a
:class:`ReferenceRead` moved to the device once (:meth:`ReferenceRead.to`) keeps host-to-device
copies out of the per-layer code; contiguous runs of items with / without a reference (the CFG
halves) are read as slices, not gathered; ``layout="masked"`` serves a batch that mixes items with
and without a reference with one SDPA launch and a key mask instead of two launches.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from diffusers import UNet2DConditionModel
from diffusers.models.attention_processor import Attention, AttnProcessor2_0, FusedAttnProcessor2_0
from jaxtyping import Float, Int
from torch import Tensor
from torch.nn import functional as F

SELF_ATTENTION_SUFFIX = ".attn1.processor"


class ReferenceBank:
    """Reference features of one semantic-preserver pass, keyed by transformer-block path.

    Args:
        round_to: if set (the release uses ``torch.float16``), banked features are rounded to this
            dtype and back, reproducing the release's hand-over cast (release-spec §10).
    """

    def __init__(self, round_to: torch.dtype | None = None):
        self.round_to = round_to
        self.features: dict[str, Tensor] = {}
        self._kv: dict[str, tuple[Tensor, Tensor]] = {}

    def store(self, name: str, hidden_states: Float[Tensor, "b l c"]) -> None:
        if self.round_to is not None and hidden_states.dtype != self.round_to:
            hidden_states = hidden_states.to(self.round_to).to(hidden_states.dtype)
        # A bank is filled by one preserver pass. Under gradient checkpointing the preserver's blocks
        # run again during backward and store equal tensors; cached keys/values stay valid.
        self.features[name] = hidden_states

    def keys_values(self, name: str, attn: Attention) -> tuple[Float[Tensor, "b l d"], Float[Tensor, "b l d"]]:
        """Reference keys/values of block ``name`` projected by ``attn`` (computed once, cached).

        :meth:`GenWarpModel.project_reference` calls this for every block before the denoiser
        runs, so that with gradient checkpointing the projection is not part of a recomputed block.
        """
        if name not in self._kv:
            try:
                feats = self.features[name]
            except KeyError:
                raise KeyError(
                    f"the reference bank has no features for block {name!r}; banked blocks: "
                    f"{sorted(self.features)[:4]}... — were the preserver and denoiser built from the "
                    "same U-Net layout?"
                ) from None
            feats = feats.to(attn.to_k.weight.dtype)
            self._kv[name] = (attn.to_k(feats), attn.to_v(feats))
        return self._kv[name]

    @property
    def projected(self) -> dict[str, tuple[Tensor, Tensor]]:
        """The keys/values projected so far, by block name (what the denoiser reads)."""
        return self._kv

    @property
    def batch_size(self) -> int:
        return next(iter(self.features.values())).shape[0] if self.features else 0

    def clear(self) -> None:
        self.features.clear()
        self._kv.clear()


READ_LAYOUTS = ("split", "masked")


def _span(indices: list[int]) -> tuple[int, int] | None:
    """``(start, stop)`` when ``indices`` is a non-empty run of consecutive integers."""
    if indices and indices == list(range(indices[0], indices[0] + len(indices))):
        return indices[0], indices[0] + len(indices)
    return None


@dataclass(frozen=True)
class ReferenceRead:
    """What the denoiser's augmented attention reads: a bank and the bank row per batch item.

    ``ref_index[i] = j`` makes item ``i`` attend to bank row ``j``; ``-1`` gives plain
    self-attention (classifier-free-guidance's unconditional branch, condition dropout).
    Build it with :meth:`create`, which splits the batch once on the host so the per-layer code
    does not synchronise; :meth:`to` moves the index tensors to the device once, so the per-layer
    code does not copy them either.

    ``layout`` says how a batch that mixes items with and without a reference is attended:
    ``"split"`` (default) runs one SDPA on the items with a reference (keys ``[target ; ref]``)
    and one on the others (keys ``target``); ``"masked"`` runs one SDPA on the whole batch with
    keys ``[target ; ref]`` and a key mask hiding the reference from items without one (one launch
    instead of two, at the price of attending over the masked keys; the same function up to
    floating-point rounding).
    """

    bank: ReferenceBank
    ref_index: Int[Tensor, " b"]
    with_ref: Int[Tensor, " n"]
    without_ref: Int[Tensor, " m"]
    layout: str = "split"
    ref_rows: Int[Tensor, " n"] | None = None  # ref_index[with_ref]
    with_ref_span: tuple[int, int] | None = None  # with_ref == range(*span) when set
    without_ref_span: tuple[int, int] | None = None

    @classmethod
    def create(
        cls, bank: ReferenceBank, ref_index: Int[Tensor, " b"] | list[int], layout: str = "split"
    ) -> ReferenceRead:
        if layout not in READ_LAYOUTS:
            raise ValueError(f"layout must be one of {READ_LAYOUTS}, got {layout!r}")
        ref_index = torch.as_tensor(ref_index, dtype=torch.long)
        idx = ref_index.tolist()
        n_bank = bank.batch_size
        bad = [j for j in idx if j >= n_bank or j < -1]
        if bad:
            raise ValueError(f"ref_index entries must be -1 or in [0, {n_bank - 1}] (bank size), got {bad}")
        with_list = [i for i, j in enumerate(idx) if j >= 0]
        without_list = [i for i, j in enumerate(idx) if j < 0]
        return cls(
            bank=bank,
            ref_index=ref_index,
            with_ref=torch.tensor(with_list, dtype=torch.long),
            without_ref=torch.tensor(without_list, dtype=torch.long),
            layout=layout,
            ref_rows=torch.tensor([idx[i] for i in with_list], dtype=torch.long, device=ref_index.device),
            with_ref_span=_span(with_list),
            without_ref_span=_span(without_list),
        )

    def to(self, device: torch.device | str) -> ReferenceRead:
        """The same read with its index tensors on ``device`` (call once, before the steps)."""
        def move(t: Tensor | None) -> Tensor | None:
            return None if t is None else t.to(device)

        return dataclasses.replace(
            self, ref_index=move(self.ref_index), with_ref=move(self.with_ref), without_ref=move(self.without_ref),
            ref_rows=move(self.ref_rows),
        )


def _rows(read: ReferenceRead, device: torch.device) -> Tensor:
    rows = read.ref_rows if read.ref_rows is not None else read.ref_index.to(device)[read.with_ref.to(device)]
    return rows.to(device)


def _items(index: Tensor, span: tuple[int, int] | None, device: torch.device) -> Tensor | slice:
    """A batch selector: a slice (a view, no copy) for a contiguous run, else an index tensor."""
    return slice(*span) if span is not None else index.to(device)


def _project_qkv(attn: Attention, hidden_states: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Self-attention projections, from ``attn.to_qkv`` when the projections are fused."""
    if getattr(attn, "fused_projections", False) and getattr(attn, "to_qkv", None) is not None:
        return attn.to_qkv(hidden_states).chunk(3, dim=-1)
    return attn.to_q(hidden_states), attn.to_k(hidden_states), attn.to_v(hidden_states)


_STOCK = AttnProcessor2_0()
_STOCK_FUSED = FusedAttnProcessor2_0()


def _plain_attention(attn, hidden_states, encoder_hidden_states, attention_mask, temb):
    """diffusers' SDPA attention, on the fused projections when ``attn`` has them."""
    stock = _STOCK_FUSED if getattr(attn, "fused_projections", False) else _STOCK
    return stock(attn, hidden_states, encoder_hidden_states, attention_mask, temb)


def _sdpa(attn: Attention, q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None) -> Tensor:
    """Multi-head SDPA on (b, l, heads*d) projections; returns (b, lq, heads*d)."""
    b, lq, inner = q.shape
    d = inner // attn.heads
    q = q.view(b, lq, attn.heads, d).transpose(1, 2)
    k = k.view(b, -1, attn.heads, d).transpose(1, 2)
    v = v.view(b, -1, attn.heads, d).transpose(1, 2)
    if attn.norm_q is not None:
        q = attn.norm_q(q)
    if attn.norm_k is not None:
        k = attn.norm_k(k)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=attn.scale)
    return out.transpose(1, 2).reshape(b, lq, inner)


class PlainAttnProcessor(AttnProcessor2_0):
    """Stock SDPA attention that accepts (and ignores) the ``reference`` keyword.

    Installed on every attention layer that takes no part in the reference mechanism (the
    cross-attentions), so ``cross_attention_kwargs={"reference": ...}`` reaches all layers quietly.
    """

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None,
                 reference=None):
        return _plain_attention(attn, hidden_states, encoder_hidden_states, attention_mask, temb)


class ReferenceWriterProcessor(AttnProcessor2_0):
    """Preserver self-attention: banks its input under ``name``, then attends as usual."""

    def __init__(self, name: str):
        super().__init__()
        self.name = name

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None,
                 reference: ReferenceBank | None = None):
        if reference is not None:
            if not isinstance(reference, ReferenceBank):
                raise TypeError(f"the preserver expects a ReferenceBank, got {type(reference).__name__}")
            reference.store(self.name, hidden_states)
        return _plain_attention(attn, hidden_states, encoder_hidden_states, attention_mask, temb)


class ReferenceReaderProcessor(AttnProcessor2_0):
    """Denoiser self-attention augmented with the reference tokens of the same block path."""

    def __init__(self, name: str):
        super().__init__()
        self.name = name

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None,
                 reference: ReferenceRead | None = None):
        if reference is None or reference.with_ref.numel() == 0:
            return _plain_attention(attn, hidden_states, encoder_hidden_states, attention_mask, temb)
        if not isinstance(reference, ReferenceRead):
            raise TypeError(f"the denoiser expects a ReferenceRead, got {type(reference).__name__}")
        if hidden_states.ndim != 3 or attention_mask is not None or encoder_hidden_states is not None:
            raise NotImplementedError("augmented self-attention supports (b, l, c) self-attention without mask")
        if attn.spatial_norm is not None or attn.group_norm is not None:
            raise NotImplementedError("augmented self-attention does not support spatial/group norm layers")
        if hidden_states.shape[0] != reference.ref_index.shape[0]:
            raise ValueError(
                f"ref_index has {reference.ref_index.shape[0]} entries but the denoiser batch has "
                f"{hidden_states.shape[0]} items"
            )

        q, k, v = _project_qkv(attn, hidden_states)
        k_ref, v_ref = reference.bank.keys_values(self.name, attn)
        device = hidden_states.device
        if reference.without_ref.numel() > 0 and reference.layout == "masked":
            out = self._masked(attn, q, k, v, k_ref, v_ref, reference, device)
        else:
            sel = _items(reference.with_ref, reference.with_ref_span, device)
            rows = _rows(reference, device)
            out_ref = _sdpa(
                attn,
                q[sel],
                torch.cat([k[sel], k_ref[rows].to(k.dtype)], dim=1),
                torch.cat([v[sel], v_ref[rows].to(v.dtype)], dim=1),
            )
            if reference.without_ref.numel() == 0:
                out = out_ref
            else:
                rest = _items(reference.without_ref, reference.without_ref_span, device)
                out_plain = _sdpa(attn, q[rest], k[rest], v[rest])
                out = _assemble(q, out_ref, out_plain, reference, device)

        out = attn.to_out[1](attn.to_out[0](out))
        if attn.residual_connection:
            out = out + hidden_states
        return out / attn.rescale_output_factor

    @staticmethod
    def _masked(attn, q, k, v, k_ref, v_ref, reference: ReferenceRead, device) -> Tensor:
        """One SDPA over the whole batch; items without a reference do not see its keys."""
        ref_index = reference.ref_index.to(device)
        rows = ref_index.clamp(min=0)
        b, lk = k.shape[0], k.shape[1]
        has_ref = (ref_index >= 0).view(b, 1, 1, 1).expand(b, 1, 1, k_ref.shape[1])
        mask = torch.cat([torch.ones(b, 1, 1, lk, dtype=torch.bool, device=device), has_ref], dim=-1)
        return _sdpa(
            attn,
            q,
            torch.cat([k, k_ref[rows].to(k.dtype)], dim=1),
            torch.cat([v, v_ref[rows].to(v.dtype)], dim=1),
            mask,
        )


def _assemble(q: Tensor, out_ref: Tensor, out_plain: Tensor, reference: ReferenceRead, device) -> Tensor:
    """Put the two groups' outputs back in batch order."""
    spans = (reference.without_ref_span, reference.with_ref_span)
    b = q.shape[0]
    if spans[0] is not None and spans[1] is not None:
        if spans[0] == (0, spans[1][0]) and spans[1][1] == b:
            return torch.cat([out_plain, out_ref])
        if spans[1] == (0, spans[0][0]) and spans[0][1] == b:
            return torch.cat([out_ref, out_plain])
    out = q.new_empty(q.shape)
    return out.index_copy(0, reference.with_ref.to(device), out_ref).index_copy(
        0, reference.without_ref.to(device), out_plain
    )


def _block_name(processor_key: str) -> str:
    return processor_key[: -len(SELF_ATTENTION_SUFFIX)]


def install_reference_processors(unet: UNet2DConditionModel, role: str) -> list[str]:
    """Give ``unet`` writer (``role="writer"``) or reader (``role="reader"``) self-attention.

    Every self-attention (``*.attn1``) gets the role's processor, named by its transformer-block
    path; every other attention layer gets :class:`PlainAttnProcessor`. Returns the block names.
    """
    if role not in ("writer", "reader"):
        raise ValueError(f"role must be 'writer' or 'reader', got {role!r}")
    cls = ReferenceWriterProcessor if role == "writer" else ReferenceReaderProcessor
    processors = {}
    names = []
    for key in unet.attn_processors:
        if key.endswith(SELF_ATTENTION_SUFFIX):
            names.append(_block_name(key))
            processors[key] = cls(_block_name(key))
        else:
            processors[key] = PlainAttnProcessor()
    unet.set_attn_processor(processors)
    return names


class ReferenceProcessorsReplaced(RuntimeError):
    """A U-Net's self-attention lost its reference processor (``set_attn_processor``, xformers,
    attention slicing, ``fuse_qkv_projections`` on the U-Net...): sampling would silently run
    without GenWarp's reference attention, so it is refused instead."""


def check_reference_processors(unet: UNet2DConditionModel, role: str, owner: str = "unet") -> None:
    """Raise :class:`ReferenceProcessorsReplaced` unless every self-attention of ``unet`` still
    carries the ``role``'s reference processor (a subclass counts) under its own block name.

    Why raise rather than re-wrap a foreign processor: the augmented attention needs the keys and
    values *inside* the attention (``[target ; reference]``), which an arbitrary processor does not
    expose; a wrapper would keep the reference only by ignoring the new processor on exactly the
    layers it was meant for. Cross-attention layers may carry any processor.
    """
    if role not in ("writer", "reader"):
        raise ValueError(f"role must be 'writer' or 'reader', got {role!r}")
    cls = ReferenceWriterProcessor if role == "writer" else ReferenceReaderProcessor
    for key, processor in unet.attn_processors.items():
        if not key.endswith(SELF_ATTENTION_SUFFIX):
            continue
        name = _block_name(key)
        if not isinstance(processor, cls) or processor.name != name:
            raise ReferenceProcessorsReplaced(
                f"{owner} self-attention {name} has {type(processor).__name__} instead of GenWarp's "
                f"{cls.__name__}: replacing it (set_attn_processor, enable_xformers_memory_efficient_attention, "
                "attention slicing, fuse_qkv_projections on the U-Net) drops the reference attention and "
                "silently changes every output. GenWarp's processors already use PyTorch SDPA; for fused "
                "projections use genwarp.perf.fuse_qkv. Put them back with pipe.restore_reference_attention() "
                f"(or install_reference_processors({owner}, {role!r}))."
            )


@contextlib.contextmanager
def reference_bank(round_to: torch.dtype | None = None) -> Iterator[ReferenceBank]:
    """A fresh :class:`ReferenceBank`, cleared on every exit path."""
    bank = ReferenceBank(round_to=round_to)
    try:
        yield bank
    finally:
        bank.clear()


__all__ = [
    "READ_LAYOUTS",
    "PlainAttnProcessor",
    "ReferenceBank",
    "ReferenceRead",
    "ReferenceReaderProcessor",
    "ReferenceProcessorsReplaced",
    "ReferenceWriterProcessor",
    "check_reference_processors",
    "install_reference_processors",
    "reference_bank",
]
