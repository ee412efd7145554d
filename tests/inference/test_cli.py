"""The command line as a person uses it: every promised file, geometry that matches the truth,
and bad input as one clear line."""

from __future__ import annotations

import json
import time

import numpy as np
import PIL.Image
import pytest
import torch
from inference_helpers import run_script, write_camera_file

from genwarp.inference import count_video_frames
from genwarp.inference.cli import main

FAST = ["--height", "64", "--width", "64", "--steps", "2", "--quiet"]


def _png(path) -> torch.Tensor:
    return torch.from_numpy(np.array(PIL.Image.open(path).convert("RGB"))).permute(2, 0, 1).float() / 255


def _assert_outputs(folder, n: int, size: int = 64) -> None:
    for name in ("input.png", "depth.npy", "depth.png", "contact_sheet.png", "cameras.json", "path.mp4", "path.gif"):
        assert (folder / name).is_file(), f"{name} missing in {folder}"
    views = sorted((folder / "views").glob("*.png"))
    assert [p.name for p in views] == [f"{i:03d}.png" for i in range(n)]
    assert len(list((folder / "warped").glob("*.png"))) == n
    assert PIL.Image.open(views[0]).size == (size, size)
    assert count_video_frames(folder / "path.mp4") == n
    with PIL.Image.open(folder / "path.gif") as gif:
        assert gif.n_frames == n
    w, h = PIL.Image.open(folder / "contact_sheet.png").size
    assert (w, h) == (3 * (size + 2) + 2, 14 + n * (size + 2) + 2)  # input | warped | generated, a row per view
    summary = json.loads((folder / "cameras.json").read_text())
    assert len(summary["path"]["c2w"]) == n


def test_end_to_end_on_a_release_layout_checkpoint_writes_every_promised_file(room, tiny_release, tmp_path):
    out = tmp_path / "out"
    start = time.perf_counter()
    proc = run_script("infer.py", "--image", room["image"], "--depth-file", room["depth"], "--release-dir",
                      tiny_release, "--variant", "multi1", "--path", "orbit", "--num-views", "5", "--seed", "1",
                      "--output", out, *FAST)
    seconds = time.perf_counter() - start
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"outputs in {out.resolve()}" in proc.stdout
    _assert_outputs(out / "room", 5)
    summary = json.loads((out / "room" / "cameras.json").read_text())
    assert summary["path"]["name"] == "orbit" and summary["settings"]["release_dir"] == str(tiny_release)
    print(f"scripts/infer.py end to end (release layout, 5 views, 64², 2 steps): {seconds:.1f} s")


def test_camera_file_views_warp_onto_the_true_targets(room, tmp_path):
    """Exact depth + the sequence's own cameras: the warped source matches the real target frames
    where it is visible (a wrong axis, sign or pose inversion would not)."""
    cams = write_camera_file(tmp_path / "seq.txt", room["pairs"])
    out = tmp_path / "out"
    code = main(["--image", str(room["image"]), "--depth-file", str(room["depth"]), "--camera-file", str(cams),
                 "--tiny-random", "--output", str(out), *FAST])
    assert code == 0
    _assert_outputs(out / "room", 2)
    for j, pair in enumerate(room["pairs"]):
        warped = _png(out / "room" / "warped" / f"{j:03d}.png")
        seen = warped.sum(0, keepdim=True) > 0
        assert seen.float().mean() > 0.5
        mse = ((warped - pair["tgt_image"]) ** 2 * seen).sum() / (3 * seen.sum())
        psnr = float(10 * torch.log10(1 / mse))
        assert psnr > 24, f"view {j}: warped-source PSNR {psnr:.1f} dB on visible pixels"


def test_explicit_pose_autoregressive_and_estimated_depth(room, tiny_depth_model, tmp_path):
    out = tmp_path / "explicit"
    assert main(["--image", str(room["image"]), "--depth-model", str(tiny_depth_model), "--tiny-random",
                 "--yaw", "8", "--forward", "0.2", "--num-views", "3", "--output", str(out), *FAST]) == 0
    _assert_outputs(out / "room", 3)
    c2w = np.array(json.loads((out / "room" / "cameras.json").read_text())["path"]["c2w"])
    assert c2w[-1, 2, 3] == pytest.approx(0.2, abs=1e-6) and c2w[-1, 0, 2] == pytest.approx(np.sin(np.radians(8)), abs=1e-6)
    out = tmp_path / "auto"
    assert main(["--image", str(room["image"]), "--depth-file", str(room["depth"]), "--depth-model",
                 str(tiny_depth_model), "--tiny-random", "--path", "dolly", "--num-views", "5", "--autoregressive",
                 "--segment-length", "2", "--max-batch", "1", "--output", str(out), *FAST]) == 0
    _assert_outputs(out / "room", 5)
    assert json.loads((out / "room" / "cameras.json").read_text())["anchors"] == [-1, -1, 1, 1, 3]


def test_a_folder_of_images_skips_a_bad_one_and_carries_on(room, tmp_path, capsys):
    folder = tmp_path / "photos"
    depths = tmp_path / "depths"
    folder.mkdir(), depths.mkdir()
    for name in ("a", "b"):
        (folder / f"{name}.png").write_bytes(room["image"].read_bytes())
        (depths / f"{name}.npy").write_bytes(room["depth"].read_bytes())
    (folder / "c.jpg").write_bytes(b"not an image")
    out = tmp_path / "out"
    code = main(["--image", str(folder), "--depth-file", str(depths), "--tiny-random", "--path", "pan",
                 "--num-views", "2", "--output", str(out), *FAST])
    captured = capsys.readouterr()
    assert code == 1
    assert "skipped" in captured.err and "c.jpg" in captured.err
    assert "2 image(s) done, 1 skipped" in captured.out
    _assert_outputs(out / "a", 2)
    _assert_outputs(out / "b", 2)


def _error_of(args, capsys) -> str:
    code = main(args)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    lines = err.splitlines()
    assert lines[0].startswith("error: ") and "Traceback" not in err
    return err


def test_bad_input_is_one_clear_message(room, tmp_path, capsys):
    base = ["--tiny-random", "--output", str(tmp_path / "o"), *FAST]
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    assert "cannot read image" in _error_of(["--image", str(broken), "--depth-file", str(room["depth"]), *base], capsys)

    bad_cams = tmp_path / "cams.txt"
    bad_cams.write_text("https://x\n0 0.9 0.9 0.5 0.5 0 0 1 0 0\n")
    err = _error_of(["--image", str(room["image"]), "--depth-file", str(room["depth"]), "--camera-file", str(bad_cams),
                     *base], capsys)
    assert "line 2: expected 19" in err and str(bad_cams) in err  # wording of genwarp.data.re10k

    small = tmp_path / "small.npy"
    np.save(small, np.ones((32, 48), np.float32))
    err = _error_of(["--image", str(room["image"]), "--depth-file", str(small), *base], capsys)
    assert "is 48x32 (WxH) but the image is 64x64" in err

    err = _error_of(["--image", str(room["image"]), "--depth-file", str(room["depth"]), "--path", "orbit",
                     "--yaw", "10", *base], capsys)
    assert "give one camera" in err
    err = _error_of(["--image", str(room["image"]), "--release-dir", str(tmp_path / "nowhere"),
                     "--depth-file", str(room["depth"]), "--quiet"], capsys)
    assert "release checkpoints root not found" in err
    err = _error_of(["--image", str(room["image"]), "--depth-file", str(room["depth"]), "--quiet"], capsys)
    assert "exactly one of --release-dir" in err
    err = _error_of(["--image", str(room["image"]), "--tiny-random", "--height", "60", "--quiet"], capsys)
    assert "--height must be a positive multiple of 8" in err
    err = _error_of(["--image", str(room["image"]), "--tiny-random", "--intrinsics", "500", "500", "320", "240",
                     "--quiet"], capsys)
    assert "must be normalised" in err
    err = _error_of(["--image", str(room["image"]), "--tiny-random", "--depth-model", str(tmp_path / "no-model"),
                     "--quiet", *FAST], capsys)
    assert "could not be loaded" in err and "--depth-file" in err


def test_a_user_error_in_a_subprocess_prints_no_traceback(tmp_path):
    broken = tmp_path / "photo.jpg"
    broken.write_text("this is not a jpeg")
    proc = run_script("infer.py", "--image", broken, "--tiny-random", "--quiet")
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error: cannot read image") and "Traceback" not in proc.stderr


def test_our_checkpoint_export_and_its_run_folder_load(room, tiny_pipe, tmp_path):
    run = tmp_path / "run"
    tiny_pipe.save_pretrained(run / "model")
    for checkpoint in (run / "model", run):  # the export itself, or the training run folder around it
        out = tmp_path / f"out-{checkpoint.name}"
        assert main(["--image", str(room["image"]), "--depth-file", str(room["depth"]), "--checkpoint", str(checkpoint),
                     "--path", "dolly", "--num-views", "2", "--output", str(out), *FAST]) == 0
        _assert_outputs(out / "room", 2)
    a = _png(tmp_path / "out-model" / "room" / "views" / "001.png")
    b = _png(tmp_path / "out-run" / "room" / "views" / "001.png")
    assert torch.equal(a, b)
