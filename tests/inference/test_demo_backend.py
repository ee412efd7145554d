"""The demo's backend (what the Generate button calls) and page construction, without a browser."""

from __future__ import annotations

import numpy as np
import PIL.Image
import pytest

from genwarp.inference import InferenceInputError, count_video_frames
from genwarp.inference.app import CAMERA_MODES, DemoBackend


@pytest.fixture(scope="module")
def backend(tiny_pipe, tiny_depth_model, tmp_path_factory):
    return DemoBackend(tiny_pipe, [str(tiny_depth_model)], height=32, width=32,
                       output_dir=tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module")
def photo(room):
    return np.array(PIL.Image.open(room["image"]).convert("RGB"))


def test_sliders_give_one_warped_and_one_generated_view(backend, photo):
    r = backend.generate(photo, backend.depth_models[0], "camera sliders", yaw=10, forward=0.1, steps=2)
    assert r.generated.shape == r.warped.shape == r.depth.shape == (32, 32, 3)
    assert r.generated.dtype == np.uint8 and len(r.views) == 1 and r.video is None
    assert "1 view(s)" in r.status


def test_a_preset_path_gives_a_video_with_one_frame_per_view(backend, photo):
    r = backend.generate(photo[:, :48], backend.depth_models[0], "lookaround", num_views=5, steps=1, fps=4)
    assert len(r.views) == 5 and r.video.is_file() and r.gif.is_file()
    assert count_video_frames(r.video) == 5
    assert r.video.resolve().is_relative_to(backend.output_dir.resolve())


def test_demo_input_errors_are_user_errors(backend, photo):
    with pytest.raises(InferenceInputError, match="upload a photo first"):
        backend.generate(None, backend.depth_models[0])
    with pytest.raises(InferenceInputError, match="unknown depth model"):
        backend.generate(photo, "nope")
    with pytest.raises(InferenceInputError, match="camera mode"):
        backend.generate(photo, backend.depth_models[0], "spiral")
    assert CAMERA_MODES[0] == "camera sliders"


def test_the_page_builds_with_the_documented_element_ids(backend):
    pytest.importorskip("gradio", reason="the demo page needs gradio (pip install -e '.[demo]')")
    from genwarp.inference.app import build_demo

    demo = build_demo(backend)
    ids = {getattr(block, "elem_id", None) for block in demo.blocks.values()}
    for needed in ("input-image", "depth-model", "camera-mode", "yaw", "pitch", "forward", "sideways",
                   "generate-btn", "warped-view", "generated-view", "video", "video-file", "status"):
        assert needed in ids, needed
