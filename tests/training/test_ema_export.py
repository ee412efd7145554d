"""With EMA on, the export holds the EMA shadow, not the raw weights."""

from __future__ import annotations

import torch
from safetensors.torch import load_file

from genwarp import GenWarpPipeline
from genwarp.training.state_io import load_tree


def test_export_holds_the_ema_weights(train_cli, tmp_path):
    # Decay 0.5 over 3 steps at a large learning rate: EMA and raw weights are far apart.
    train_cli("trainer.max_steps=3", "trainer.checkpoint_every=3", "trainer.validate_every=0", "trainer.ema=true",
              "trainer.ema_decay=0.5", "trainer.learning_rate=1e-2", "trainer.warmup_steps=0",
              "trainer.lr_scheduler=constant", f"output_dir={tmp_path}")
    ckpt = tmp_path / "checkpoints" / "step_00000003"
    raw = load_file(str(next(ckpt.glob("model*.safetensors"))))
    shadow = load_tree(ckpt, "ema")["shadow_params"]
    exported = GenWarpPipeline.from_pretrained(tmp_path / "model").model
    # EMAModel keeps one shadow per trainable parameter, in model.trainable_parameters() order
    # (every part is trained by default; the preserver's dead tail is frozen in every model).
    trainable = [(n, p) for n, p in exported.named_parameters() if p.requires_grad]
    assert len(shadow) == len(trainable) > 0
    differs = 0
    for (name, param), value in zip(trainable, shadow):
        torch.testing.assert_close(param.detach(), value.to(param.dtype), rtol=0, atol=0, msg=name)
        differs += int(not torch.equal(raw[name], value))
    assert differs > len(shadow) // 2, "EMA and raw weights coincide: the test could not tell a raw export"
