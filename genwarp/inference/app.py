"""The Gradio demo: upload a photo, pick a depth model, move the camera, get the novel view(s).

:class:`DemoBackend` holds the model and does the work (plain Python, testable without a browser);
:func:`build_demo` lays out the Gradio page around it. ``scripts/demo.py`` is the entry point.

Camera controls: **yaw** (turn right, degrees), **pitch** (tilt up, degrees), **forward** and
**sideways** (right) moves in units of the scene's median depth (0.2 = a fifth of the way to the
typical surface; the median in depth-model units, metres for ZoeDepth, is reported after each run),
and the vertical field of view of the photo. Instead of one pose, a preset path (orbit, dolly, pan,
lookaround; :mod:`genwarp.inference.cameras`) renders ``views`` frames into a video to download.

Page element ids (stable, used by the browser test): ``input-image``, ``depth-model``,
``camera-mode``, ``generate-btn``, ``depth-view``, ``warped-view``, ``generated-view``,
``all-views``, ``video``, ``video-file``, ``status``.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from genwarp.inference.cameras import (
    PRESET_PATHS,
    CameraPath,
    camera_pose,
    intrinsics_from_fov,
    preset_path,
    scene_depth,
)
from genwarp.inference.errors import InferenceInputError, InferenceInputWarning
from genwarp.inference.generate import check_depth_near, generate_views
from genwarp.inference.inputs import check_image_size, prepare_source
from genwarp.inference.loading import load_depth_estimator
from genwarp.inference.outputs import depth_preview, write_gif, write_mp4
from genwarp.utils import to_uint8

__all__ = ["DemoBackend", "DemoResult", "build_demo"]

SLIDERS = "camera sliders"
CAMERA_MODES = (SLIDERS, *PRESET_PATHS)


@dataclass
class DemoResult:
    """What one click produces: images as (H, W, 3) uint8 arrays, files as paths."""

    depth: np.ndarray
    warped: np.ndarray
    generated: np.ndarray
    views: list[np.ndarray]
    video: Path | None
    gif: Path | None
    status: str


class DemoBackend:
    """The model, the depth estimators (loaded on first use) and the generation behind the page.

    Args:
        pipe: a :class:`~genwarp.pipelines.GenWarpPipeline`.
        depth_models: names offered in the depth dropdown (presets, hub ids or local folders).
        height, width: working resolution.
        device: where the depth estimators run.
        output_dir: where videos are written (default: a folder under the system temp dir).
        max_batch: views per pipeline call.
    """

    def __init__(self, pipe, depth_models: list[str], height: int = 512, width: int = 512,
                 device: str | torch.device = "cpu", output_dir: str | Path | None = None,
                 max_batch: int | None = None):
        if not depth_models:
            raise ValueError("give at least one depth model")
        self.pipe = pipe
        self.depth_models = list(depth_models)
        self.height, self.width = int(height), int(width)
        self.device = device
        self.max_batch = max_batch
        self.output_dir = Path(output_dir or Path(tempfile.gettempdir()) / "genwarp-demo")
        self._estimators: dict[str, object] = {}
        self._depth_cache: tuple[str, torch.Tensor] | None = None

    def estimator(self, name: str):
        if name not in self.depth_models:
            raise InferenceInputError(f"unknown depth model {name!r}; choose one of {', '.join(self.depth_models)}")
        if name not in self._estimators:
            self._estimators[name] = load_depth_estimator(name, self.device)
        return self._estimators[name]

    def _depth(self, image: torch.Tensor, model: str) -> torch.Tensor:
        key = model + hashlib.sha1(image.numpy().tobytes()).hexdigest()
        if self._depth_cache is None or self._depth_cache[0] != key:  # sliders re-run: reuse the depth
            depth = self.estimator(model).estimate(image[None])[0].float().cpu()
            self._depth_cache = (key, depth)
        return self._depth_cache[1]

    def generate(
        self,
        image: np.ndarray | None,
        depth_model: str,
        mode: str = SLIDERS,
        yaw: float = 0.0,
        pitch: float = 0.0,
        forward: float = 0.0,
        sideways: float = 0.0,
        fov: float = 60.0,
        num_views: int = 16,
        steps: int = 20,
        guidance: float = 3.5,
        seed: int = 0,
        fps: float = 8.0,
    ) -> DemoResult:
        """One click of "Generate" (see the module docstring for the controls)."""
        if image is None:
            raise InferenceInputError("upload a photo first")
        if mode not in CAMERA_MODES:
            raise InferenceInputError(f"camera mode must be one of {', '.join(CAMERA_MODES)}, got {mode!r}")
        t0 = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:  # input warnings go into the status line
            warnings.simplefilter("always", InferenceInputWarning)
            array = np.asarray(image)
            if array.ndim == 2:
                array = np.repeat(array[..., None], 3, axis=-1)
            pixels = torch.from_numpy(np.ascontiguousarray(array[..., :3])).permute(2, 0, 1).float() / 255.0
            check_image_size("the photo", pixels.shape[-2:], self.height, self.width)
            K = intrinsics_from_fov(float(fov), *pixels.shape[-2:])
            source = prepare_source(pixels, K, self.height, self.width)
            source.depth = self._depth(source.image, depth_model)
            source.depth_mask = torch.isfinite(source.depth) & (source.depth > 0)
            check_depth_near(source.depth, source.depth_mask, f"depth from {depth_model}",
                             hint="; choose a metric depth model")
        notes = [str(w.message) for w in caught if issubclass(w.category, InferenceInputWarning)]
        scale = scene_depth(source.depth, source.depth_mask)
        if mode == SLIDERS:
            c2w = camera_pose(yaw=yaw, pitch=pitch, right=sideways * scale, forward=forward * scale)
            path = CameraPath(c2w[None].float(), source.intrinsics[None].clone(), "sliders")
        else:
            path = preset_path(mode, int(num_views), source.intrinsics, scene_scale=scale)
        res = generate_views(self.pipe, source, path, steps=int(steps), guidance=float(guidance), seed=int(seed),
                             max_batch=self.max_batch, progress=False)
        video = gif = None
        if len(path) > 1:
            folder = Path(tempfile.mkdtemp(prefix="run-", dir=self._ensure_output_dir()))
            video = write_mp4(res.images, folder / "genwarp_path.mp4", fps=fps)
            gif = write_gif(res.images, folder / "genwarp_path.gif", fps=fps)
        shown = len(path) - 1 if mode == SLIDERS else len(path) // 2
        status = (f"{len(path)} view(s) in {time.perf_counter() - t0:.1f} s · median depth {scale:.3g} "
                  f"(depth-model units) · visible {float(res.visibility[shown].mean()):.0%} of the shown view")
        status += "".join(f"\n\nwarning: {note}" for note in notes)
        return DemoResult(
            depth=to_uint8(depth_preview(source.depth, source.depth_mask)),
            warped=to_uint8(res.warped[shown]),
            generated=to_uint8(res.images[shown]),
            views=[to_uint8(v) for v in res.images],
            video=video,
            gif=gif,
            status=status,
        )

    def _ensure_output_dir(self) -> Path:
        self.output_dir.mkdir(parents=True, exist_ok=True)
        return self.output_dir


def build_demo(backend: DemoBackend, title: str = "GenWarp: single image → novel views", note: str = ""):
    """The Gradio page (a ``gr.Blocks``) around ``backend``; call ``.launch()`` on it."""
    import gradio as gr

    def on_generate(image, depth_model, mode, yaw, pitch, forward, sideways, fov, num_views, steps, guidance, seed):
        try:
            r = backend.generate(image, depth_model, mode, yaw, pitch, forward, sideways, fov, num_views, steps,
                                 guidance, seed)
        except InferenceInputError as e:
            raise gr.Error(str(e)) from None
        video = str(r.video) if r.video else None
        return r.depth, r.warped, r.generated, r.views, video, video, r.status

    with gr.Blocks(title=title, analytics_enabled=False) as demo:
        gr.Markdown(f"## {title}\n{note}\nUpload a photo, choose a depth model, move the camera with the sliders "
                    "(or pick a preset path for a video) and press **Generate**. Translations are fractions of the "
                    "scene's median depth.")
        with gr.Row():
            with gr.Column():
                image = gr.Image(label="photo", type="numpy", sources=["upload", "clipboard"], elem_id="input-image")
                depth_model = gr.Dropdown(backend.depth_models, value=backend.depth_models[0], label="depth model",
                                          elem_id="depth-model")
                mode = gr.Radio(list(CAMERA_MODES), value=SLIDERS, label="camera", elem_id="camera-mode")
                yaw = gr.Slider(-45, 45, value=10, step=1, label="yaw (turn right, °)", elem_id="yaw")
                pitch = gr.Slider(-30, 30, value=0, step=1, label="pitch (tilt up, °)", elem_id="pitch")
                forward = gr.Slider(-0.5, 0.8, value=0.0, step=0.01, label="forward (× median depth)", elem_id="forward")
                sideways = gr.Slider(-0.5, 0.5, value=0.0, step=0.01, label="sideways, right (× median depth)",
                                     elem_id="sideways")
                fov = gr.Slider(20, 120, value=60, step=1, label="vertical field of view of the photo (°)", elem_id="fov")
                num_views = gr.Slider(2, 48, value=16, step=1, label="views (preset paths)", elem_id="num-views")
                with gr.Accordion("sampling", open=False):
                    steps = gr.Slider(1, 50, value=20, step=1, label="DDIM steps", elem_id="steps")
                    guidance = gr.Slider(1.0, 10.0, value=3.5, step=0.1, label="guidance", elem_id="guidance")
                    seed = gr.Number(value=0, precision=0, label="seed", elem_id="seed")
                button = gr.Button("Generate", variant="primary", elem_id="generate-btn")
            with gr.Column():
                status = gr.Markdown(elem_id="status")
                with gr.Row():
                    depth_view = gr.Image(label="depth (near = bright)", elem_id="depth-view", interactive=False,
                                          height=256)
                    warped_view = gr.Image(label="warped", elem_id="warped-view", interactive=False, height=256)
                    generated_view = gr.Image(label="generated", elem_id="generated-view", interactive=False,
                                              height=256)
                gallery = gr.Gallery(label="all views", columns=8, height=200, elem_id="all-views")
                video = gr.Video(label="path video", elem_id="video", interactive=False, height=320)
                video_file = gr.File(label="download the video", elem_id="video-file", interactive=False)
        button.click(
            on_generate,
            inputs=[image, depth_model, mode, yaw, pitch, forward, sideways, fov, num_views, steps, guidance, seed],
            outputs=[depth_view, warped_view, generated_view, gallery, video, video_file, status],
        )
    return demo
