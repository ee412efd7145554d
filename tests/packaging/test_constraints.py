"""constraints.txt (the tested set CI installs) and pyproject.toml cannot drift apart.

Cheap: reads files only, installs nothing. Every dependency named in pyproject.toml (core and every
extra) has an exact pin in constraints.txt that satisfies its range, and .ci/run installs every
package under those constraints (no version typed a second time in the script).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[2]


def parse_pins(text: str) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        m = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", line)
        assert m, f"constraints.txt: not an exact `name==version` pin: {line!r}"
        name = canonicalize_name(m.group(1))
        assert name not in pins, f"constraints.txt pins {name} twice"
        Version(m.group(2))  # a valid version
        pins[name] = m.group(2)
    return pins


def pyproject_requirements(pyproject: dict) -> list[tuple[str, Requirement]]:
    project = pyproject["project"]
    reqs = [("dependencies", Requirement(r)) for r in project["dependencies"]]
    for extra, items in project.get("optional-dependencies", {}).items():
        reqs += [(f"[{extra}]", Requirement(r)) for r in items]
    return reqs


def drift(pyproject: dict, pins: dict[str, str]) -> list[str]:
    """Every pyproject requirement without a pin, or whose pin its range does not allow."""
    problems = []
    for where, req in pyproject_requirements(pyproject):
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        name = canonicalize_name(req.name)
        if name == "genwarp":  # a self-reference between extras
            continue
        if name not in pins:
            problems.append(f"{where} {req}: no pin in constraints.txt")
        elif not req.specifier.contains(pins[name], prereleases=True):
            problems.append(f"{where} {req}: constraints.txt pins {name}=={pins[name]}, outside the range")
    return problems


@pytest.fixture(scope="module")
def pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


@pytest.fixture(scope="module")
def pins() -> dict[str, str]:
    return parse_pins((REPO / "constraints.txt").read_text())


def test_every_pyproject_dependency_is_pinned_within_its_range(pyproject, pins):
    problems = drift(pyproject, pins)
    assert not problems, ("constraints.txt and pyproject.toml disagree (regenerate with "
                          "`python scripts/lock_constraints.py`):\n" + "\n".join(problems))


def test_constraints_pin_the_build_and_ci_tools_but_not_genwarp(pins):
    for name in ("torch", "torchvision", "pip", "setuptools", "wheel"):
        assert name in pins, f"constraints.txt does not pin {name}"
    assert "genwarp" not in pins


def test_the_drift_check_catches_a_pin_outside_the_range_and_a_missing_pin(pyproject, pins):
    moved = dict(pins, diffusers="0.43.0")
    assert any("diffusers==0.43.0" in p for p in drift(pyproject, moved))
    dropped = {k: v for k, v in pins.items() if k != "jaxtyping"}
    assert any("jaxtyping" in p and "no pin" in p for p in drift(pyproject, dropped))
    added = dict(pyproject, project=dict(pyproject["project"],
                                         dependencies=[*pyproject["project"]["dependencies"], "no-such-package-xyz>=0.7"]))
    assert any("no-such-package-xyz" in p for p in drift(added, pins))


def test_ci_installs_every_package_under_the_constraints():
    lines = [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines()]
    installs = [line for line in lines if re.search(r"\bpip install\b", line) and not line.startswith("#")]
    assert len(installs) >= 2, installs
    for line in installs:
        assert "-c constraints.txt" in line, f".ci/run installs without the constraints: {line}"
        assert "==" not in line, f".ci/run types a version that belongs in constraints.txt: {line}"
