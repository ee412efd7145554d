"""pyproject.toml's dependency bounds are true: the declared Python floor is one every dependency
supports, each declared lower bound satisfies what the other (installed) dependencies require of it,
diffusers is a range and not a single pin, and every dependency is imported by the code."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
DEPS = {canonicalize_name(r.name): r for r in map(Requirement, PROJECT["dependencies"])}
IMPORT_NAME = {"pillow": "PIL", "opencv-python-headless": "cv2", "huggingface-hub": "huggingface_hub",
               "hydra-core": "hydra"}
# Declared without a direct import: what it is for.
NOT_IMPORTED = {"huggingface-hub": "the `hf download` CLI that README and error messages name"}


def _floor(spec: SpecifierSet) -> Version | None:
    floors = [Version(s.version) for s in spec if s.operator in (">=", "==", "~=")]
    return max(floors) if floors else None


def _installed(name: str):
    try:
        return distribution(name)
    except PackageNotFoundError:
        pytest.skip(f"{name} not installed")


def test_python_floor_is_supported_by_every_dependency():
    floor = _floor(SpecifierSet(PROJECT["requires-python"]))
    too_new = {}
    for name in DEPS:
        needs = _installed(name).metadata.get("Requires-Python")
        if needs and floor not in SpecifierSet(needs):
            too_new[name] = needs
    assert not too_new, f"requires-python {PROJECT['requires-python']!r}, but the installed {too_new} need more"


def test_lower_bounds_satisfy_what_the_other_dependencies_require():
    """Checked where the installed release is of the floor's series (same major.minor as our lower
    bound, e.g. diffusers 0.42.1 for >=0.42.0): its requirements stand for the floor's."""
    wrong = []
    for name in DEPS:
        floor, have = _floor(DEPS[name].specifier), Version(_installed(name).version)
        if floor is None or have.release[:2] != floor.release[:2]:
            continue
        for req in map(Requirement, _installed(name).requires or []):
            other = canonicalize_name(req.name)
            if other not in DEPS or (req.marker and not req.marker.evaluate({"extra": ""})):
                continue
            ours = _floor(DEPS[other].specifier)
            if ours is None or ours not in req.specifier:
                wrong.append(f"{other}{DEPS[other].specifier} but {name} needs {other}{req.specifier}")
    assert not wrong, wrong


def test_declared_ranges_hold_the_installed_versions():
    outside = {n: (str(r.specifier), _installed(n).version) for n, r in DEPS.items()
               if not r.specifier.contains(_installed(n).version, prereleases=True)}
    assert not outside, outside


def test_diffusers_is_a_range():
    spec = DEPS["diffusers"].specifier
    assert not any(s.operator in ("==", "===") for s in spec), f"diffusers pinned to one version: {spec}"
    assert Version("0.42.0") in spec and Version("0.42.1") in spec


def test_headless_opencv():
    assert "opencv-python" not in DEPS and "opencv-python-headless" in DEPS


def test_every_dependency_is_imported():
    code = "\n".join(p.read_text(errors="replace") for top in ("genwarp", "scripts")
                     for p in (REPO / top).rglob("*.py"))
    unused = [n for n in DEPS if n not in NOT_IMPORTED
              and not re.search(rf"^\s*(import|from)\s+{re.escape(IMPORT_NAME.get(n, n.replace('-', '_')))}\b",
                               code, re.MULTILINE)]
    assert not unused, f"declared but never imported: {unused}"
