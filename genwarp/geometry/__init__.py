"""Pure, batched camera geometry for GenWarp: cameras, projection, forward splatting, embeddings and
the warped-condition builders.

Conventions (one place, see :mod:`genwarp.geometry.cameras`): OpenCV camera axes (x right, y down,
z forward); extrinsics camera-to-world 4×4, relative poses ``src_to_tgt`` with
``X_tgt = src_to_tgt · X_src``; intrinsics 3×3 normalised by width/height with pixel centres at
((x + 0.5)/W, (y + 0.5)/H); pixel math in integer-centred pixel coordinates; z-depth; images
(B, 3, H, W) in [0, 1]. The official release's OpenGL matrices are converted at the edge by
:func:`from_opengl`.

No state, no config, no I/O; every function works on CPU and CUDA tensors of any batch size.
"""

from genwarp.geometry.cameras import (
    OpenGLConversion,
    check_rigid,
    focal_length_to_fov,
    fov_to_intrinsics,
    from_opengl,
    invert_rigid,
    normalized_to_pixel_intrinsics,
    opengl_look_at,
    opengl_projection_matrix,
    pixel_to_normalized_intrinsics,
    relative_transform,
    sph2cart,
    to_opengl,
)
from genwarp.geometry.conditions import (
    CONDITION_KINDS,
    Conditions,
    build_conditions,
    condition_channels,
)
from genwarp.geometry.embeddings import (
    COORDINATE_NORMALIZATIONS,
    coordinate_embedding,
    coordinate_grid,
    embedding_channels,
    fourier_embedding,
    plucker_embedding,
)
from genwarp.geometry.projection import pixel_grid, project, transform_points, unproject
from genwarp.geometry.splatting import (
    HOUSE_LOG_WEIGHT_SHIFT,
    IMPORTANCE_MODES,
    INVALID_COORDINATE,
    SplatInputs,
    forward_warp,
    prepare_splat,
    softmax_splat,
    splat_importance,
    splat_validity,
    warp_coordinates,
)

# Alias: some callers know the importance step under this name.
compute_importance = splat_importance

__all__ = [
    "CONDITION_KINDS",
    "COORDINATE_NORMALIZATIONS",
    "HOUSE_LOG_WEIGHT_SHIFT",
    "IMPORTANCE_MODES",
    "INVALID_COORDINATE",
    "Conditions",
    "OpenGLConversion",
    "SplatInputs",
    "build_conditions",
    "check_rigid",
    "compute_importance",
    "condition_channels",
    "coordinate_embedding",
    "coordinate_grid",
    "embedding_channels",
    "focal_length_to_fov",
    "forward_warp",
    "fourier_embedding",
    "fov_to_intrinsics",
    "from_opengl",
    "invert_rigid",
    "normalized_to_pixel_intrinsics",
    "opengl_look_at",
    "opengl_projection_matrix",
    "pixel_grid",
    "pixel_to_normalized_intrinsics",
    "plucker_embedding",
    "prepare_splat",
    "project",
    "relative_transform",
    "softmax_splat",
    "sph2cart",
    "splat_importance",
    "splat_validity",
    "to_opengl",
    "transform_points",
    "unproject",
    "warp_coordinates",
]
