"""Console scripts genwarp-train, -evaluate, -benchmark, -precompute-depth, -prepare-re10k,
-make-eval-index run scripts/*.py; configs/, data/*.json and those scripts are installed with the
package (share/genwarp), and the wrappers find them from a checkout and from a wheel install."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

from genwarp.cli import SCRIPTS, find_resource, resource_roots

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
DATA_FILES = PYPROJECT["tool"]["setuptools"]["data-files"]
COMMANDS = ["genwarp-train", "genwarp-evaluate", "genwarp-benchmark", "genwarp-precompute-depth",
            "genwarp-prepare-re10k", "genwarp-make-eval-index"]


def test_console_scripts_declared_and_point_at_existing_scripts():
    declared = PYPROJECT["project"]["scripts"]
    import genwarp.cli as cli

    for command in COMMANDS:
        module, _, attr = declared[command].partition(":")
        assert module == "genwarp.cli" and callable(getattr(cli, attr)), declared[command]
        assert (REPO / "scripts" / SCRIPTS[command]).is_file()
    assert sorted(SCRIPTS) == sorted(COMMANDS)


def _shipped() -> set[str]:
    """Repository-relative paths the data-files table installs under share/genwarp/<same path>."""
    out = set()
    for dest, patterns in DATA_FILES.items():
        assert dest.startswith("share/genwarp/"), dest
        for pattern in patterns:
            matches = [p for p in REPO.glob(pattern) if p.is_file()]
            assert matches, f"data-files pattern {pattern!r} matches nothing"
            for p in matches:
                rel = p.relative_to(REPO).as_posix()
                assert f"share/genwarp/{Path(rel).parent.as_posix()}" == dest, f"{rel} would land in {dest}"
                out.add(rel)
    return out


def test_every_config_index_and_wrapped_script_is_shipped():
    shipped = _shipped()
    wanted = {p.relative_to(REPO).as_posix() for p in (REPO / "configs").rglob("*") if p.is_file()}
    wanted |= {p.relative_to(REPO).as_posix() for p in (REPO / "data").glob("*.json")}
    wanted |= {f"scripts/{f}" for f in SCRIPTS.values()}
    assert not wanted - shipped, f"not installed with the package: {sorted(wanted - shipped)}"


def test_resources_found_in_the_checkout():
    assert resource_roots()[0] == REPO
    assert find_resource("configs/train.yaml") == REPO / "configs" / "train.yaml"
    assert find_resource("data/eval_index_synthetic_test.json").is_file()
    with pytest.raises(FileNotFoundError, match="not installed"):
        find_resource("configs/no_such.yaml")


def test_resources_found_under_share_genwarp(monkeypatch, tmp_path):
    """A wheel install: no checkout above the package, files in <prefix>/share/genwarp."""
    import genwarp.cli as cli

    (tmp_path / "share" / "genwarp" / "configs").mkdir(parents=True)
    (tmp_path / "share" / "genwarp" / "configs" / "train.yaml").write_text("{}")
    monkeypatch.setattr(cli, "__file__", str(tmp_path / "lib" / "site-packages" / "genwarp" / "cli" / "__init__.py"))
    monkeypatch.setattr(sysconfig, "get_path", lambda name, *a, **k: str(tmp_path))
    assert cli.find_resource("configs/train.yaml") == tmp_path / "share" / "genwarp" / "configs" / "train.yaml"


def _run(code: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
                          cwd=REPO, env=env)


@pytest.mark.parametrize("command", ["genwarp-benchmark", "genwarp-make-eval-index", "genwarp-prepare-re10k",
                                     "genwarp-precompute-depth"])
def test_wrapper_runs_the_script(command):
    attr = command.removeprefix("genwarp-").replace("-", "_")
    ours = _run(f"import sys; sys.argv = [{command!r}, '--help']; from genwarp.cli import {attr}; {attr}()")
    theirs = subprocess.run([sys.executable, f"scripts/{SCRIPTS[command]}", "--help"], capture_output=True,
                            text=True, timeout=300, cwd=REPO, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert ours.returncode == theirs.returncode == 0, ours.stderr + theirs.stderr
    strip = lambda s: s.split("\n", 1)[1]  # the usage line names the program
    assert strip(ours.stdout) == strip(theirs.stdout)


@pytest.mark.parametrize("command, override, expect", [("genwarp-train", "experiment=synthetic_tiny", "name: synthetic_tiny"),
                                                       ("genwarp-evaluate", "method=warp_only", "method: warp_only")])
def test_hydra_wrappers_compose_the_configs(command, override, expect):
    attr = command.removeprefix("genwarp-")
    out = _run(f"import sys; sys.argv = [{command!r}, '--cfg', 'job', {override!r}]; "
               f"from genwarp.cli import {attr}; {attr}()")
    assert out.returncode == 0 and expect in out.stdout, out.stdout[-2000:] + out.stderr[-4000:]


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory):
    """The wheel built from a copy of the checkout, installed (no deps) into a fresh venv that
    borrows this environment's dependencies through PYTHONPATH: no checkout to fall back on.
    Returns (venv, env for its processes, a working directory outside the checkout)."""
    from importlib.metadata import PackageNotFoundError, version

    from packaging.version import Version

    try:  # built without isolation (offline): needs the build-system's setuptools in this environment
        if Version(version("setuptools")) < Version("77"):
            pytest.skip("setuptools < 77 installed (pyproject's build-system needs >= 77)")
    except PackageNotFoundError:
        pytest.skip("setuptools not installed")
    tmp_path = tmp_path_factory.mktemp("wheel")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    src = tmp_path / "src"  # a copy, so that the build leaves no build/ or egg-info in the checkout
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE", "genwarp", "configs", "data", "scripts"):
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(REPO / name, src / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path / "whl")], check=True, timeout=600, env=env, cwd=tmp_path)
    (wheel,) = (tmp_path / "whl").glob("genwarp-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=300)
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q",
                    "--no-deps", str(wheel)], check=True, timeout=600, env=env)
    env["PYTHONPATH"] = sysconfig.get_path("purelib")  # torch & co., without this env's editable genwarp
    work = tmp_path / "work"
    work.mkdir()
    return venv, env, work


@pytest.mark.slow
def test_wheel_install_finds_configs_and_indices(wheel_venv):
    venv, env, work = wheel_venv
    share = venv / "share" / "genwarp"
    assert (share / "configs" / "train.yaml").is_file() and (share / "data" / "eval_index_synthetic_test.json").is_file()
    out = subprocess.run([str(venv / "bin" / "python"), "-c", "import genwarp.cli as c; print(c.__file__); "
                          "print(c.find_resource('data/eval_index_synthetic_test.json'))"],
                         capture_output=True, text=True, timeout=300, env=env, cwd=work)
    assert out.returncode == 0 and str(venv) in out.stdout.splitlines()[0], out.stdout + out.stderr
    assert out.stdout.splitlines()[1] == str(share / "data" / "eval_index_synthetic_test.json")
    out = subprocess.run([str(venv / "bin" / "genwarp-train"), "--cfg", "job", "experiment=synthetic_tiny"],
                         capture_output=True, text=True, timeout=300, env=env, cwd=work)
    assert out.returncode == 0 and "name: synthetic_tiny" in out.stdout, out.stderr[-4000:]
    for command in ("genwarp-make-eval-index", "genwarp-benchmark"):
        out = subprocess.run([str(venv / "bin" / command), "--help"], capture_output=True, text=True, timeout=300,
                             env=env, cwd=work)
        assert out.returncode == 0 and "usage:" in out.stdout, out.stderr


@pytest.mark.slow
def test_wheel_install_library_finds_the_committed_index(wheel_venv):
    venv, env, work = wheel_venv
    out = subprocess.run([str(venv / "bin" / "python"), "-c",
                          "from genwarp.evaluation.datasets import default_index_path; "
                          "from genwarp.data.eval_index import load_eval_index; "
                          "p = default_index_path('synthetic'); print(p); "
                          "print(len(load_eval_index('data/eval_index_synthetic_test.json')['entries']))"],
                         capture_output=True, text=True, timeout=300, env=env, cwd=work)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.splitlines()[0] == str(venv / "share" / "genwarp" / "data" / "eval_index_synthetic_test.json")
