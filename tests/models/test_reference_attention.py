"""The reference-attention processors compute what GenWarp's augmented self-attention should."""

from __future__ import annotations

import pytest
import torch
from diffusers.models.attention_processor import Attention, AttnProcessor2_0

from genwarp.models import ReferenceBank, ReferenceRead
from genwarp.models.reference_attention import ReferenceReaderProcessor, ReferenceWriterProcessor
from genwarp.pipelines.factory import random_model


def _attention(dim=16, heads=2, seed=0) -> Attention:
    torch.manual_seed(seed)
    attn = Attention(query_dim=dim, heads=heads, dim_head=dim // heads, bias=False, out_bias=True)
    return attn.eval()


def _manual_attention(attn: Attention, x: torch.Tensor, kv_input: torch.Tensor) -> torch.Tensor:
    """Softmax attention written out by hand: queries from x, keys/values from kv_input."""
    b, lq, _ = x.shape
    h = attn.heads
    q = attn.to_q(x).view(b, lq, h, -1).transpose(1, 2)
    k = attn.to_k(kv_input).view(b, kv_input.shape[1], h, -1).transpose(1, 2)
    v = attn.to_v(kv_input).view(b, kv_input.shape[1], h, -1).transpose(1, 2)
    w = torch.softmax(q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5, dim=-1)
    out = (w @ v).transpose(1, 2).reshape(b, lq, -1)
    return attn.to_out[0](out)


def test_reader_without_reference_is_plain_self_attention():
    attn = _attention()
    x = torch.randn(3, 10, 16)
    plain = AttnProcessor2_0()(attn, x)
    reader = ReferenceReaderProcessor("blk")
    torch.testing.assert_close(reader(attn, x, reference=None), plain)
    bank = ReferenceBank()
    bank.store("blk", torch.randn(2, 7, 16))
    empty = ReferenceRead.create(bank, [-1, -1, -1])
    torch.testing.assert_close(reader(attn, x, reference=empty), plain)


def test_reader_attends_to_target_and_reference_tokens_per_item():
    attn = _attention()
    x = torch.randn(4, 10, 16)
    feats = torch.randn(2, 6, 16)
    bank = ReferenceBank()
    bank.store("blk", feats)
    ref_index = [1, -1, 0, 1]
    out = ReferenceReaderProcessor("blk")(attn, x, reference=ReferenceRead.create(bank, ref_index))
    for i, j in enumerate(ref_index):
        kv = x[i : i + 1] if j < 0 else torch.cat([x[i : i + 1], feats[j : j + 1]], dim=1)
        torch.testing.assert_close(out[i : i + 1], _manual_attention(attn, x[i : i + 1], kv), atol=1e-5, rtol=1e-5)


def test_writer_banks_its_input_and_attends_normally():
    attn = _attention()
    x = torch.randn(2, 5, 16)
    bank = ReferenceBank()
    out = ReferenceWriterProcessor("blk")(attn, x, reference=bank)
    assert torch.equal(bank.features["blk"], x)
    torch.testing.assert_close(out, AttnProcessor2_0()(attn, x))


def test_bank_rounds_to_fp16_when_asked():
    x = torch.randn(2, 5, 16) * 3
    bank = ReferenceBank(round_to=torch.float16)
    bank.store("blk", x)
    assert bank.features["blk"].dtype == torch.float32
    assert torch.equal(bank.features["blk"], x.half().float())
    assert not torch.equal(bank.features["blk"], x)


def test_ref_index_out_of_range_is_an_error():
    bank = ReferenceBank()
    bank.store("blk", torch.randn(2, 3, 16))
    with pytest.raises(ValueError, match="ref_index"):
        ReferenceRead.create(bank, [0, 2])


def test_preserver_banks_every_norm1_output_by_block_path():
    model = random_model(seed=1).eval()
    seen = {}
    hooks = []
    for name, module in model.preserver.named_modules():
        if name.endswith("transformer_blocks.0"):
            hooks.append(module.norm1.register_forward_hook(
                lambda m, i, o, name=name: seen.__setitem__(name, o.detach().clone())))
    bank = ReferenceBank()
    with torch.no_grad():
        model.write_reference(bank, torch.randn(1, 4, 8, 8), torch.zeros(1, 32, 8, 8), torch.randn(1, 1, 24))
    for h in hooks:
        h.remove()
    assert len(seen) == 16 and sorted(seen) == sorted(bank.features)
    for name, value in seen.items():
        assert torch.equal(bank.features[name], value)


def test_reference_keys_values_are_projected_once_for_all_steps():
    model = random_model(seed=2).eval()
    calls = []
    to_k = model.denoiser.down_blocks[0].attentions[0].transformer_blocks[0].attn1.to_k
    handle = to_k.register_forward_hook(lambda m, i, o: calls.append(i[0].shape))
    bank = ReferenceBank()
    with torch.no_grad():
        model.write_reference(bank, torch.randn(1, 4, 8, 8), torch.zeros(1, 32, 8, 8), torch.randn(1, 1, 24))
        read = ReferenceRead.create(bank, [0, 0, -1])  # two views of one source + one unconditional item
        for t in (900, 500, 100):
            model.predict(torch.randn(3, 4, 8, 8), torch.tensor(t), torch.zeros(3, 32, 8, 8),
                          torch.randn(3, 1, 24), read)
    handle.remove()
    reference_calls = [s for s in calls if s[0] == 1]
    target_calls = [s for s in calls if s[0] == 3]
    assert len(reference_calls) == 1 and len(target_calls) == 3


def test_gradients_flow_through_the_reference_with_and_without_checkpointing():
    grads = []
    for checkpointing in (False, True):
        model = random_model(seed=3)
        if checkpointing:
            model.enable_gradient_checkpointing()
        torch.manual_seed(0)
        args = (torch.randn(2, 4, 8, 8), torch.tensor([10, 700]), torch.randn(2, 4, 8, 8),
                torch.rand(2, 11, 64, 64), torch.rand(2, 11, 64, 64), torch.randn(2, 1, 24))
        out = model(*args, ref_index=torch.tensor([0, 1]))
        out.square().mean().backward()
        g = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
        assert any(n.startswith("preserver.") for n in g), "no gradient reached the preserver"
        assert any(n.startswith("condition_encoder.") for n in g)
        grads.append(g)
    assert grads[0].keys() == grads[1].keys()
    for name in grads[0]:
        torch.testing.assert_close(grads[0][name], grads[1][name], atol=1e-5, rtol=1e-4, msg=name)


# ---------------------------------------------------------------------------------------------
# speed means (docs/performance.md): each computes the same function as the plain path
# ---------------------------------------------------------------------------------------------

import dataclasses  # noqa: E402

from genwarp.models.reference_attention import PlainAttnProcessor  # noqa: E402


def _read_pair(ref_index, layout="split", seed=0):
    torch.manual_seed(seed)
    bank = ReferenceBank()
    bank.store("blk", torch.randn(2, 6, 16))
    return bank, ReferenceRead.create(bank, ref_index, layout=layout)


@pytest.mark.parametrize("ref_index", [[-1, -1, 0, 1], [1, -1, 0, -1], [0, 1, -1, -1], [0, 0, 1, 1]])
def test_masked_layout_equals_the_split_layout(ref_index):
    attn = _attention()
    x = torch.randn(4, 10, 16)
    bank, split = _read_pair(ref_index)
    masked = ReferenceRead.create(bank, ref_index, layout="masked")
    reader = ReferenceReaderProcessor("blk")
    torch.testing.assert_close(reader(attn, x, reference=masked), reader(attn, x, reference=split),
                               atol=1e-6, rtol=1e-5)


def test_contiguous_groups_are_read_as_slices_and_give_the_gathered_result():
    attn = _attention()
    x = torch.randn(6, 10, 16)
    bank, read = _read_pair([-1, -1, -1, 0, 1, 1])  # the CFG layout: unconditional half first
    assert read.without_ref_span == (0, 3) and read.with_ref_span == (3, 6)
    assert ReferenceRead.create(bank, [0, -1, 1]).with_ref_span is None
    gathered = dataclasses.replace(read, with_ref_span=None, without_ref_span=None, ref_rows=None)
    reader = ReferenceReaderProcessor("blk")
    torch.testing.assert_close(reader(attn, x, reference=read), reader(attn, x, reference=gathered),
                               atol=1e-7, rtol=0)


def test_read_moves_its_indices_once():
    _, read = _read_pair([-1, 0, 1])
    moved = read.to("meta")
    assert {t.device.type for t in (moved.ref_index, moved.with_ref, moved.without_ref, moved.ref_rows)} == {"meta"}
    assert moved.bank is read.bank and moved.with_ref_span == read.with_ref_span


def test_unknown_layout_is_an_error():
    bank, _ = _read_pair([0])
    with pytest.raises(ValueError, match="layout"):
        ReferenceRead.create(bank, [0], layout="packed")


def test_processors_use_fused_projections_and_compute_the_same():
    attn = _attention()
    torch.manual_seed(1)
    cross = Attention(query_dim=16, cross_attention_dim=8, heads=2, dim_head=8, bias=False, out_bias=True).eval()
    x = torch.randn(4, 10, 16)
    prompt = torch.randn(4, 1, 8)
    bank, read = _read_pair([-1, 0, 1, -1])
    reader, writer, plain = ReferenceReaderProcessor("blk"), ReferenceWriterProcessor("w"), PlainAttnProcessor()

    def run():
        return [reader(attn, x, reference=read), writer(attn, x, reference=ReferenceBank()), plain(attn, x),
                plain(cross, x, encoder_hidden_states=prompt)]

    unfused = run()
    attn.fuse_projections()
    cross.fuse_projections()
    calls = []
    hooks = [m.register_forward_hook(lambda *a: calls.append(1)) for m in (attn.to_q, attn.to_k, cross.to_k)]
    fused = run()
    for h in hooks:
        h.remove()
    assert not calls  # projections went through to_qkv / to_kv
    for a, b in zip(unfused, fused):
        torch.testing.assert_close(b, a, atol=1e-6, rtol=1e-5)
