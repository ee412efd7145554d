"""The download commands we print and document are `hf download …` commands the installed
huggingface_hub accepts (it ships the `hf` CLI; `huggingface-cli` is gone from it)."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TEXT_SUFFIXES = {".py", ".md", ".txt", ".rst", ".yaml", ".yml", ".toml"}


def _texts():
    for top in ("genwarp", "scripts", "docs"):
        for path in sorted((REPO / top).rglob("*")):
            if path.is_file() and path.suffix in TEXT_SUFFIXES:
                yield path
    yield REPO / "README.md"


def test_no_huggingface_cli_anywhere():
    hits = [f"{p.relative_to(REPO)}:{i}" for p in _texts()
            for i, line in enumerate(p.read_text(errors="replace").splitlines(), 1) if "huggingface-cli" in line]
    assert not hits, f"`huggingface-cli` is not shipped by the pinned huggingface_hub; use `hf`: {hits}"


@pytest.fixture(scope="module")
def hf_download_options() -> set[str]:
    (hf,) = [ep for ep in entry_points(group="console_scripts", name="hf") if ep.value.startswith("huggingface_hub")]
    out = subprocess.run([sys.executable, "-c", f"import sys; sys.argv = ['hf', 'download', '--help']; "
                          f"from {hf.module} import {hf.attr} as m; sys.exit(m())"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    options = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", out.stdout))
    assert "--local-dir" in options and "--include" in options, out.stdout
    return options


def _check(command: str, options: set[str]) -> None:
    words = shlex.split(command)
    assert words[:2] == ["hf", "download"], command
    assert len(words) > 2 and not words[2].startswith("-"), f"no repo id: {command}"
    unknown = [w for w in words if w.startswith("--") and w.split("=")[0] not in options]
    assert not unknown, f"`{command}`: hf download has no {unknown}"


def test_readme_commands_parse(hf_download_options):
    commands = re.findall(r"`(hf download [^`]+)`", (REPO / "README.md").read_text())
    assert commands, "README lists the release downloads as `hf download …`"
    for c in commands:
        _check(c, hf_download_options)


def test_error_message_commands_parse(hf_download_options, tmp_path):
    from genwarp.depth.hf import _offline_help
    from genwarp.inference.loading import _release_files

    for rel in ("multi1/config.json", "sd-vae-ft-mse/config.json", "image_encoder/config.json"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("{}")
    texts = [_offline_help("Intel/zoedepth-nyu")] + [how for _, how in _release_files(tmp_path, "multi1")]
    commands = [m.strip() for t in texts for m in re.findall(r"(hf download [^\n()]+?)(?:\)|\n|$)", t)]
    assert len(commands) >= 4, texts
    for c in commands:
        _check(c, hf_download_options)
