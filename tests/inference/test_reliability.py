"""Bad or odd input to the command line: every mistake is one ``error:`` line and exit status 2,
found before any model is loaded; odd-but-usable input is one ``warning:`` line naming the file and
what is done; nothing is lost or mixed silently."""

from __future__ import annotations

import json
import re
import shutil
import warnings

import numpy as np
import PIL.Image
import pytest
import torch

from genwarp.inference import InferenceInputError, list_images, load_image
from genwarp.inference.cli import main
from genwarp.inference.errors import InferenceInputWarning
from genwarp.inference.inputs import check_image_size, check_unique_stems

FAST = ["--height", "64", "--width", "64", "--steps", "1", "--quiet"]


@pytest.fixture
def no_model(monkeypatch):
    """Fail the test if the command line loads any model (the checks must come first)."""
    import genwarp.inference.cli as cli

    def loaded(*args, **kwargs):
        raise AssertionError("a model was loaded before the input was checked")

    monkeypatch.setattr(cli, "load_pipeline", loaded)
    monkeypatch.setattr(cli, "load_depth_estimator", loaded)


def _error(args, capsys) -> str:
    """The single ``error:`` line of a run that must fail with status 2."""
    code = main([str(a) for a in args])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and "Traceback" not in err, err
    return err


def _ok(args, capsys) -> tuple[str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "Traceback" not in err
    return out, err


def _warnings(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("warning: ")]


def _room_base(room, out) -> list:
    return ["--image", room["image"], "--depth-file", room["depth"], "--tiny-random", "--output", out, *FAST]


# ------------------------------------------------------------------------------------------------
# 1. Output names must be unique
# ------------------------------------------------------------------------------------------------


def test_images_differing_only_by_extension_are_refused_before_anything_runs(room, tmp_path, capsys, no_model):
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(room["image"], folder / "x.png")
    PIL.Image.open(room["image"]).convert("RGB").save(folder / "x.jpg")
    shutil.copy(room["image"], folder / "y.png")
    out = tmp_path / "out"
    err = _error(["--image", folder, "--depth-file", room["depth"], "--tiny-random", "--output", out, *FAST], capsys)
    assert "x.jpg and x.png" in err and "rename one" in err
    assert not out.exists()  # nothing written, nothing lost
    with pytest.raises(InferenceInputError, match="X.png and x.png"):
        check_unique_stems([folder / "X.png", folder / "x.png"])  # case-insensitive file systems collide too
    check_unique_stems([folder / "x.png", folder / "y.png"])


def test_two_depth_files_for_one_image_are_refused(room, tmp_path, capsys, no_model):
    depths = tmp_path / "depths"
    depths.mkdir()
    shutil.copy(room["depth"], depths / "room.npy")
    PIL.Image.fromarray((np.load(room["depth"]) * 1000).astype(np.uint16)).save(depths / "room.png")
    err = _error(["--image", room["image"], "--depth-file", depths, "--tiny-random", "--output", tmp_path / "o",
                  *FAST], capsys)
    assert "2 depth files for room.png" in err and "room.npy" in err and "room.png" in err


# ------------------------------------------------------------------------------------------------
# 2. Re-running into the same output never mixes two runs
# ------------------------------------------------------------------------------------------------


def test_rerun_into_the_same_output_is_refused_and_overwrite_replaces_every_earlier_file(room, tmp_path, capsys):
    out = tmp_path / "out"
    base = _room_base(room, out) + ["--path", "pan"]
    _ok([*base, "--num-views", "3"], capsys)
    folder = out / "room"
    (folder / "notes.txt").write_text("mine")  # not a result: must survive
    assert len(list((folder / "views").glob("*.png"))) == 3

    err = _error([*base, "--num-views", "1"], capsys)
    assert str(folder) in err and "--overwrite" in err
    assert len(list((folder / "views").glob("*.png"))) == 3  # refused: untouched

    _, err = _ok([*base, "--num-views", "1", "--overwrite"], capsys)
    assert f"removed the earlier results in {folder}" in err and "3 views" in err
    assert sorted(p.name for p in (folder / "views").iterdir()) == ["000.png"]
    assert sorted(p.name for p in (folder / "warped").iterdir()) == ["000.png"]
    assert len(json.loads((folder / "cameras.json").read_text())["path"]["c2w"]) == 1
    assert (folder / "notes.txt").read_text() == "mine"


def test_a_result_folder_that_is_a_file_is_refused(room, tmp_path, capsys, no_model):
    out = tmp_path / "out"
    out.mkdir()
    (out / "room").write_text("in the way")
    assert "is a file" in _error(_room_base(room, out), capsys)


# ------------------------------------------------------------------------------------------------
# 3. Every image mode scales to [0, 1] RGB by its own range
# ------------------------------------------------------------------------------------------------


def test_16_bit_grey_and_other_modes_scale_to_unit_rgb(tmp_path):
    ramp = np.linspace(0, 1, 32 * 48).reshape(32, 48)
    PIL.Image.fromarray((ramp * 65535).round().astype(np.uint16)).save(tmp_path / "g16.png")
    with PIL.Image.open(tmp_path / "g16.png") as img:
        assert img.mode.startswith("I;16")
    img = load_image(tmp_path / "g16.png")
    assert img.shape == (3, 32, 48) and img.dtype == torch.float32
    expect = torch.from_numpy(ramp).float().expand(3, -1, -1)
    assert torch.allclose(img, expect, atol=1e-4)  # Pillow's own I;16 → RGB clamps: 99.6 % white

    PIL.Image.fromarray((ramp * 65535).round().astype(np.int32)).save(tmp_path / "i32.tif")  # mode I
    assert torch.allclose(load_image(tmp_path / "i32.tif"), expect, atol=1e-4)
    PIL.Image.fromarray(ramp.astype(np.float32), mode="F").save(tmp_path / "f.tif")
    assert torch.allclose(load_image(tmp_path / "f.tif"), expect, atol=1e-6)
    PIL.Image.fromarray((ramp * 4).astype(np.float32), mode="F").save(tmp_path / "f4.tif")
    with pytest.warns(InferenceInputWarning, match=r"f4\.tif.*\[0, 4\].*stretched"):
        assert torch.allclose(load_image(tmp_path / "f4.tif"), expect, atol=1e-6)

    grey = (ramp * 255).round().astype(np.uint8)
    expect8 = torch.from_numpy(grey).float().div(255).expand(3, -1, -1)
    PIL.Image.fromarray(np.stack([grey, np.full_like(grey, 7)], -1), "LA").save(tmp_path / "la.png")
    assert torch.allclose(load_image(tmp_path / "la.png"), expect8)
    PIL.Image.fromarray(grey).convert("P").save(tmp_path / "p.png")
    assert torch.allclose(load_image(tmp_path / "p.png"), expect8, atol=1 / 255)
    cmyk = PIL.Image.new("CMYK", (4, 4), (0, 255, 0, 0))  # no magenta ink: green
    cmyk.save(tmp_path / "cmyk.tif")
    assert load_image(tmp_path / "cmyk.tif")[:, 0, 0].tolist() == [1.0, 0.0, 1.0]


# ------------------------------------------------------------------------------------------------
# 4. GIF is read (first frame, announced); other files are announced as skipped
# ------------------------------------------------------------------------------------------------


def test_a_gif_in_a_folder_is_used_with_its_first_frame_and_other_files_are_announced(tmp_path):
    frames = [PIL.Image.fromarray(np.full((20, 24, 3), 60 * i, np.uint8)) for i in range(1, 4)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    PIL.Image.new("RGB", (20, 24)).save(tmp_path / "b.png")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.warns(InferenceInputWarning, match=r"skipping 1 file.*notes\.txt"):
        assert [p.name for p in list_images(tmp_path)] == ["anim.gif", "b.png"]
    with pytest.warns(InferenceInputWarning, match=r"anim\.gif has 3 frames.*first frame"):
        img = load_image(tmp_path / "anim.gif")
    assert img.shape == (3, 20, 24) and torch.allclose(img, torch.full_like(img, 60 / 255), atol=2 / 255)


# ------------------------------------------------------------------------------------------------
# 5. Tiny and extreme-aspect images
# ------------------------------------------------------------------------------------------------


def test_tiny_images_are_refused_and_heavy_crops_squashes_and_upscales_are_announced(tmp_path, capsys, no_model):
    PIL.Image.new("RGB", (1, 1)).save(tmp_path / "dot.png")
    err = _error(["--image", tmp_path / "dot.png", "--tiny-random", "--output", tmp_path / "o", *FAST], capsys)
    assert "dot.png is 1x1" in err and "too small" in err

    def caught(*args, **kwargs) -> list[str]:
        with warnings.catch_warnings(record=True) as ws:
            warnings.simplefilter("always")
            check_image_size(*args, **kwargs)
        return [str(w.message) for w in ws if issubclass(w.category, InferenceInputWarning)]

    (crop,) = caught("wide.png", (300, 5000), 512, 512)
    assert "wide.png is 5000x300" in crop and "keeps 300x300" in crop and "6%" in crop and "--no-crop" in crop
    (squash,) = caught("wide.png", (300, 5000), 512, 512, crop=False)
    assert "wide.png is 5000x300" in squash and "stretched 16.7x" in squash
    (up,) = caught("small.png", (40, 40), 512, 512)
    assert "small.png is 40x40" in up and "upscaled 12.8x" in up
    assert caught("fine.png", (480, 640), 512, 512) == []  # an ordinary photo: nothing to say


def test_the_crop_warning_reaches_the_command_line_as_one_line(room, tmp_path, capsys):
    wide = tmp_path / "wide.png"
    PIL.Image.new("RGB", (640, 64), (90, 120, 150)).save(wide)
    np.save(tmp_path / "wide.npy", np.full((64, 640), 2.0, np.float32))
    _, err = _ok(["--image", wide, "--depth-file", tmp_path / "wide.npy", "--tiny-random", "--num-views", "1",
                  "--output", tmp_path / "o", *FAST], capsys)
    (line,) = _warnings(err)
    assert "wide.png is 640x64" in line and "10%" in line


# ------------------------------------------------------------------------------------------------
# 6. Depth in front of the near plane
# ------------------------------------------------------------------------------------------------


def test_depth_in_front_of_the_near_plane_is_an_error_or_a_warning_naming_the_fraction(room, tmp_path, capsys):
    close = tmp_path / "close.npy"
    np.save(close, np.full((64, 64), 0.005, np.float32))  # e.g. metres divided by 1000 once too often
    err = _error(["--image", room["image"], "--depth-file", close, "--tiny-random", "--output", tmp_path / "a",
                  *FAST], capsys)
    assert "close.npy" in err and "100.0%" in err and "near plane 0.01" in err

    part = np.load(room["depth"]).copy()
    part[:8] = 0.005  # an eighth of the pixels
    np.save(tmp_path / "part.npy", part)
    _, err = _ok(["--image", room["image"], "--depth-file", tmp_path / "part.npy", "--tiny-random",
                  "--num-views", "1", "--output", tmp_path / "b", *FAST], capsys)
    (line,) = _warnings(err)
    assert "part.npy" in line and "12.5%" in line and "near plane 0.01" in line


def test_a_view_that_sees_nothing_of_the_source_is_announced(room, tmp_path, capsys):
    _, err = _ok([*_room_base(room, tmp_path / "o"), "--forward", "50"], capsys)  # far past the whole room
    (line,) = _warnings(err)
    assert "room.png" in line and "view(s) 0 of 1 see nothing" in line


# ------------------------------------------------------------------------------------------------
# 7. Every numeric flag: finite and in range, up front
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("flags, named", [
    (["--guidance", "nan"], "--guidance"),
    (["--guidance", "-1"], "--guidance"),
    (["--fps", "nan"], "--fps"),
    (["--fps", "inf"], "--fps"),
    (["--intrinsics", "nan", "0.9", "0.5", "0.5"], "--intrinsics"),
    (["--path", "orbit", "--angle", "nan"], "--angle"),
    (["--camera-file", "unused.txt", "--translation-scale", "nan"], "--translation-scale"),
    (["--fov", "nan"], "--fov"),
    (["--depth-scale", "nan"], "--depth-scale"),
    (["--depth-scale", "0"], "--depth-scale"),
    (["--path", "dolly", "--distance", "inf"], "--distance"),
    (["--path", "lookaround", "--radius", "nan"], "--radius"),
    (["--path", "orbit", "--pivot-depth=-inf"], "--pivot-depth"),
    (["--yaw", "nan"], "--yaw"),
    (["--pitch", "200"], "--pitch"),
    (["--forward", "inf"], "--forward"),
    (["--steps", "5000"], "--steps"),
    (["--seed", "-1"], "--seed"),
    (["--height", "8192"], "--height"),
    (["--source-frame", "-1"], "--source-frame"),
])
def test_every_numeric_flag_is_checked_for_finiteness_and_range(room, tmp_path, capsys, no_model, flags, named):
    err = _error([*_room_base(room, tmp_path / "o"), *flags], capsys)
    assert err.startswith(f"error: {named} must be")


# ------------------------------------------------------------------------------------------------
# 8. Camera files: rigid rotations, positive focal lengths, before the model loads
# ------------------------------------------------------------------------------------------------


def _camera_file(path, w2c, k=(0.9, 0.9, 0.5, 0.5)):
    def row(ts, k, m):
        return " ".join(str(float(v)) for v in [ts, *k, 0, 0, *np.asarray(m)[:3, :4].reshape(-1)])

    path.write_text("https://x\n" + row(0, (0.9, 0.9, 0.5, 0.5), np.eye(4)) + "\n" + row(1000, k, w2c) + "\n")
    return path


def _scaled(m):
    m[:3, :3] *= 2


def _sheared(m):
    m[0, 1] = 0.3


def _singular(m):
    m[2, :3] = 0


def _mirrored(m):
    m[0, 0] = -1


@pytest.mark.parametrize("change, fx, match", [
    (_scaled, 0.9, r"not a rotation \(max \|RᵀR − I\| = 3, det = 8"),
    (_sheared, 0.9, r"not a rotation \(max \|RᵀR − I\| = 0\.3"),
    (_singular, 0.9, r"not a rotation .*det = 0"),
    (_mirrored, 0.9, r"not a rotation .*det = -1"),
    (None, -0.9, r"focal lengths fx=-0\.9, fy=0\.9 must be positive"),
])
def test_a_camera_file_that_is_not_a_camera_is_refused_before_the_model_loads(room, tmp_path, capsys, no_model,
                                                                              change, fx, match):
    w2c = np.eye(4)
    w2c[0, 3] = 0.1
    if change is not None:
        change(w2c)
    k = (fx, 0.9, 0.5, 0.5)
    name = change.__name__ if change else "negative_fx"
    cams = _camera_file(tmp_path / f"{name}.txt", w2c, k)
    err = _error([*_room_base(room, tmp_path / "o"), "--camera-file", cams], capsys)
    assert f"camera file {cams} row 1 (timestamp 1000)" in err
    assert re.search(match, err), err


# ------------------------------------------------------------------------------------------------
# 9. An unwritable --output is found up front
# ------------------------------------------------------------------------------------------------


def test_an_unwritable_output_is_refused_before_anything_runs(room, tmp_path, capsys, no_model, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    err = _error(_room_base(room, blocker / "out"), capsys)
    assert f"--output {blocker / 'out'} cannot be created: {blocker} is a file" in err

    import genwarp.inference.cli as cli

    def read_only(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(cli.tempfile, "mkstemp", read_only)  # what a read-only folder does (root ignores chmod)
    err = _error(_room_base(room, tmp_path / "ro" / "out"), capsys)
    assert f"--output {tmp_path / 'ro' / 'out'} is not writable ({tmp_path}: Permission denied)" in err
    assert not (tmp_path / "ro").exists()


# ------------------------------------------------------------------------------------------------
# 10. Truncated / corrupt weight files
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("file, download", [
    ("multi1/denoising_unet.pth", "Sony/genwarp"),
    ("multi1/config.json", "Sony/genwarp"),
    ("sd-vae-ft-mse/diffusion_pytorch_model.safetensors", "stabilityai/sd-vae-ft-mse"),
    ("image_encoder/model.safetensors", "lambdalabs/sd-image-variations-diffusers"),
])
def test_a_truncated_release_file_is_one_error_naming_it_before_loading(room, tiny_release, tmp_path, capsys,
                                                                        no_model, file, download):
    root = tmp_path / "release"
    shutil.copytree(tiny_release, root)
    target = root / file
    assert target.is_file(), f"the tiny release no longer has {file}"
    data = target.read_bytes()
    target.write_bytes(data[: len(data) // 2])
    err = _error(["--image", room["image"], "--depth-file", room["depth"], "--release-dir", root,
                  "--output", tmp_path / "o", *FAST], capsys)
    assert f"{target} looks truncated or corrupt" in err and "download it again" in err and download in err


def test_the_release_loader_names_a_damaged_pth_it_cannot_read(tiny_release, tmp_path):
    """Behind the quick check: a file torch.load fails on (here an old-format pickle cut short,
    which has no zip directory to check) is an OSError naming it, also for direct library use."""
    from genwarp.inference import load_pipeline
    from genwarp.models.release import load_release_model

    root = tmp_path / "release"
    shutil.copytree(tiny_release, root)
    target = root / "multi1" / "pose_guider.pth"
    state = torch.load(target, weights_only=True)
    torch.save(state, target, _use_new_zipfile_serialization=False)
    data = target.read_bytes()
    target.write_bytes(data[: len(data) // 2])
    with pytest.raises(OSError, match=r"pose_guider\.pth .*truncated or corrupt.*download it again"):
        load_release_model(root, "multi1")
    with pytest.raises(InferenceInputError, match=r"pose_guider\.pth .*truncated or corrupt"):
        load_pipeline(release_dir=root, variant="multi1")


def test_a_truncated_file_of_our_export_is_named(room, tiny_pipe, tmp_path, capsys, no_model):
    export = tmp_path / "model"
    tiny_pipe.save_pretrained(export)
    weights = sorted(export.rglob("*.safetensors"))
    assert weights
    data = weights[0].read_bytes()
    weights[0].write_bytes(data[:-100])
    capsys.readouterr()  # save_pretrained's progress bar
    err = _error(["--image", room["image"], "--depth-file", room["depth"], "--checkpoint", export,
                  "--output", tmp_path / "o", *FAST], capsys)
    assert f"{weights[0]} looks truncated or corrupt" in err and "export it again" in err
