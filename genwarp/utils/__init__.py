"""Small shared helpers (image grids)."""

from genwarp.utils.visualization import image_grid, save_image_grid, to_uint8

__all__ = ["image_grid", "save_image_grid", "to_uint8"]
