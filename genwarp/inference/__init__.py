"""Inference for people: photos → novel views along camera paths, on the command line and in a
Gradio demo.

* :mod:`~genwarp.inference.cameras` — explicit poses, preset paths (orbit, dolly, pan, lookaround),
  RealEstate10K camera files, all as :class:`CameraPath` in the source camera's frame;
* :mod:`~genwarp.inference.inputs` — reading images and depth files, crop/resize to the working
  resolution with intrinsics kept consistent;
* :mod:`~genwarp.inference.generate` — batched generation (one reference pass per call) and the
  autoregressive mode for long paths;
* :mod:`~genwarp.inference.outputs` — PNGs, MP4, GIF, contact sheets;
* :mod:`~genwarp.inference.loading` — model / depth-estimator loading with user-facing errors;
* :mod:`~genwarp.inference.cli` — ``genwarp-infer`` / ``scripts/infer.py``;
* :mod:`~genwarp.inference.app` — the Gradio demo (``scripts/demo.py``; needs ``gradio``).

User mistakes raise :class:`InferenceInputError` (one clear line on the command line).
"""

from genwarp.inference.cameras import (
    PRESET_PATHS,
    CameraPath,
    camera_file_path,
    camera_pose,
    interpolate_poses,
    intrinsics_from_fov,
    look_at,
    preset_path,
    scene_depth,
)
from genwarp.inference.errors import InferenceInputError
from genwarp.inference.generate import ViewResults, generate_autoregressive, generate_views, warp_depth
from genwarp.inference.inputs import Source, list_images, load_depth, load_image, prepare_source
from genwarp.inference.loading import load_depth_estimator, load_pipeline
from genwarp.inference.outputs import (
    count_video_frames,
    depth_preview,
    save_png,
    write_contact_sheet,
    write_gif,
    write_mp4,
)

__all__ = [
    "PRESET_PATHS",
    "CameraPath",
    "InferenceInputError",
    "Source",
    "ViewResults",
    "camera_file_path",
    "camera_pose",
    "count_video_frames",
    "depth_preview",
    "generate_autoregressive",
    "generate_views",
    "interpolate_poses",
    "intrinsics_from_fov",
    "list_images",
    "load_depth",
    "load_depth_estimator",
    "load_image",
    "load_pipeline",
    "look_at",
    "prepare_source",
    "preset_path",
    "save_png",
    "scene_depth",
    "warp_depth",
    "write_contact_sheet",
    "write_gif",
    "write_mp4",
]
