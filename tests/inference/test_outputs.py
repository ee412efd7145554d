"""Videos have one frame per view; GIFs too; the contact sheet has one row per view."""

from __future__ import annotations

import PIL.Image
import pytest
import torch

from genwarp.inference import count_video_frames, depth_preview, write_contact_sheet, write_gif, write_mp4


@pytest.mark.parametrize("n", [1, 7])
def test_mp4_and_gif_have_one_frame_per_view(tmp_path, n):
    frames = torch.rand(n, 3, 24, 40)
    mp4 = write_mp4(frames, tmp_path / "v.mp4", fps=5)
    assert count_video_frames(mp4) == n
    gif = write_gif(frames, tmp_path / "v.gif", fps=5)
    with PIL.Image.open(gif) as img:
        assert img.n_frames == n and img.size == (40, 24)


def test_mp4_pads_odd_sizes(tmp_path):
    assert count_video_frames(write_mp4(torch.rand(3, 3, 15, 17), tmp_path / "odd.mp4")) == 3


def test_contact_sheet_has_a_row_per_view_and_three_columns(tmp_path):
    src, n = torch.rand(3, 32, 32), 5
    path = write_contact_sheet(src, torch.rand(n, 3, 32, 32), torch.rand(n, 3, 32, 32), tmp_path / "s.png")
    w, h = PIL.Image.open(path).size
    pad, label = 2, 14
    assert w == 3 * (32 + pad) + pad and h == label + n * (32 + pad) + pad


def test_depth_preview_is_bright_near_and_black_where_unknown():
    depth = torch.tensor([[[1.0, 2.0, 0.0]]])
    prev = depth_preview(depth)
    assert prev.shape == (3, 1, 3)
    assert prev[0, 0, 0] > prev[0, 0, 1] > 0 and prev[0, 0, 2] == 0
