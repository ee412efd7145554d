"""``--help`` of the Hydra scripts: the config groups each script reads, and nothing else.

Hydra's default help lists every folder under ``configs/`` as a group, so ``train.py --help``
offered ``accelerate`` (launch configs for ``accelerate launch --config_file``, which fail as a
group) and ``evaluate.py --help`` offered the training-only groups and no methods. Each root config
(``configs/train.yaml``, ``configs/evaluate.yaml``) sets ``hydra.help.template`` with
``${genwarp_help_groups:<script>}``, which this module resolves (an OmegaConf resolver, registered
by the scripts before ``hydra.main``) from the files on disk, so the list stays true as presets
are added.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

# The groups each script composes (the defaults lists of configs/train.yaml and configs/evaluate.yaml).
GROUPS = {
    "train": ("experiment", "model", "data", "depth", "trainer", "logger", "debug"),
    "evaluate": ("data", "depth"),
}
RESOLVER = "genwarp_help_groups"


def group_options(group: str, config_dir: Path) -> list[str]:
    """The options of one config group: the YAML files in ``configs/<group>/``."""
    return sorted(p.stem for p in (config_dir / group).glob("*.yaml"))


def help_groups(script: str, config_dir: str | Path) -> str:
    """The text that replaces Hydra's group list in ``<script>.py --help``."""
    config_dir = Path(config_dir)
    if script not in GROUPS:
        raise ValueError(f"no help groups for script {script!r}; known: {sorted(GROUPS)}")
    lines = [f"{group}: {', '.join(group_options(group, config_dir))}" for group in GROUPS[script]]
    if script == "evaluate":
        from genwarp.evaluation.methods import METHODS

        lines.append(f"method (a key, not a group): {', '.join([*METHODS, 'none'])}")
    if script == "train":
        launch = ", ".join(group_options("accelerate", config_dir))
        lines += ["", f"configs/accelerate/ ({launch}) are launch configs, not a group:",
                  "  accelerate launch --config_file configs/accelerate/<name>.yaml scripts/train.py ..."]
    return "\n".join(lines)


def register_help_resolver(config_dir: str | Path) -> None:
    """Register ``${genwarp_help_groups:<script>}`` for the configs in ``config_dir`` (the folder
    the script hands to ``hydra.main``: the checkout's or the installed ``share/genwarp`` one)."""
    OmegaConf.register_new_resolver(RESOLVER, lambda script: help_groups(str(script), config_dir), replace=True)


__all__ = ["GROUPS", "group_options", "help_groups", "register_help_resolver"]
