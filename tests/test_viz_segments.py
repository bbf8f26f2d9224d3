"""Tests of `ylg_tf.viz`: segment maps of latent -> image attention and the PNG encoder."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from ylg_tf.viz import (
    PALETTE,
    colorize_segments,
    palette,
    segment_figure,
    segment_map,
    write_png,
    write_segment_png,
)


def _attention(rows=4, cols=6, k=3, heads=2):
    """Two heads over a rows x cols grid: latent 0 on the left half, 1 on the right, 2 nowhere.

    Head 0 leans mildly towards latent 2 everywhere, head 1 strongly towards the half's latent,
    so only the head average gives the halves (a test of the averaging).
    """
    n = rows * cols
    left = (np.arange(n) % cols) < cols // 2
    probs = np.zeros((heads, n, k))
    probs[0] = [0.3, 0.3, 0.4]
    probs[1, left] = [0.9, 0.05, 0.05]
    probs[1, ~left] = [0.05, 0.9, 0.05]
    return probs, left.reshape(rows, cols)


def test_segment_map_averages_heads_and_takes_the_argmax():
    probs, left = _attention()
    segments = segment_map(probs, grid_hw=(4, 6))
    assert segments.dtype == np.int32 and segments.shape == (4, 6)
    np.testing.assert_array_equal(segments, np.where(left, 0, 1))
    np.testing.assert_array_equal(segment_map(probs[0], grid_hw=(4, 6)), np.full((4, 6), 2))


def test_segment_map_square_grid_by_default():
    probs = np.eye(4)[np.array([0, 1, 2, 3, 3, 2, 1, 0, 0, 0, 0, 0, 1, 1, 1, 1])]  # [16, 4]
    np.testing.assert_array_equal(segment_map(probs), probs.argmax(-1).reshape(4, 4))


@pytest.mark.parametrize(
    "shape,grid,match",
    [
        ((24, 3), None, "24 image positions"),
        ((24, 3), (5, 5), "A 5x5 grid has 25 cells, not 24 image positions"),
        ((2, 2, 24, 3), (4, 6), r"shape=\(2, 2, 24, 3\)"),
    ],
)
def test_segment_map_errors_name_the_value(shape, grid, match):
    with pytest.raises(ValueError, match=match):
        segment_map(np.ones(shape), grid_hw=grid)


def test_palette_is_fixed_and_distinct():
    assert PALETTE.shape == (20, 3) and PALETTE.dtype == np.uint8
    colours = palette(40)
    np.testing.assert_array_equal(colours[:20], PALETTE)
    assert len({tuple(c) for c in colours}) == 40
    np.testing.assert_array_equal(palette(40), colours)  # deterministic


def test_colorize_segments():
    segments = np.array([[0, 1], [2, 0]])
    np.testing.assert_array_equal(
        colorize_segments(segments), PALETTE[[[0, 1], [2, 0]]].reshape(2, 2, 3)
    )
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        colorize_segments(segments, num_latents=2)


def test_segment_figure_without_image_is_the_enlarged_colours():
    probs, left = _attention()
    figure = segment_figure(probs, grid_hw=(4, 6), scale=3)
    expected = np.where(left[..., None], PALETTE[0], PALETTE[1]).astype(np.uint8)
    np.testing.assert_array_equal(figure, expected.repeat(3, 0).repeat(3, 1))
    # Default scale: at least 128 pixels on the longer side.
    assert segment_figure(probs, grid_hw=(4, 6)).shape == (4 * 22, 6 * 22, 3)


def test_segment_figure_panels_with_an_image():
    probs, left = _attention()
    rng = np.random.default_rng(0)
    image = rng.uniform(-1, 1, (8, 12, 3)).astype(np.float32)  # the grid enlarged 2x
    figure = segment_figure(probs, image, grid_hw=(4, 6), alpha=0.25, scale=1)
    assert figure.shape == (8, 3 * 12 + 2 * 2, 3)
    as_uint8 = np.round((image.astype(np.float64) + 1) * 127.5).astype(np.uint8)
    colours = np.where(left[..., None], PALETTE[0], PALETTE[1]).repeat(2, 0).repeat(2, 1)
    np.testing.assert_array_equal(figure[:, :12], as_uint8)
    np.testing.assert_array_equal(figure[:, 12:14], 255)  # white gap
    blend = np.round(0.75 * as_uint8 + 0.25 * colours).astype(np.uint8)
    np.testing.assert_array_equal(figure[:, 14:26], blend)
    np.testing.assert_array_equal(figure[:, 28:], colours)


def test_segment_figure_grayscale_and_errors():
    probs, _ = _attention()
    gray = np.zeros((8, 12, 1), np.float32)  # -> 127.5 -> 128
    figure = segment_figure(probs, gray, grid_hw=(4, 6), scale=1)
    np.testing.assert_array_equal(figure[:, :12], 128)
    with pytest.raises(ValueError, match="alpha=1.5"):
        segment_figure(probs, gray, grid_hw=(4, 6), alpha=1.5)
    with pytest.raises(ValueError, match="9x12"):
        segment_figure(probs, np.zeros((9, 12, 3)), grid_hw=(4, 6))


def test_write_segment_png_round_trips_through_pillow(tmp_path):
    probs, _ = _attention()
    image = np.random.default_rng(1).uniform(-1, 1, (8, 12, 3))
    path = write_segment_png(tmp_path / "sub" / "segments.png", probs, image, grid_hw=(4, 6))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(path) as png:
        np.testing.assert_array_equal(
            np.asarray(png.convert("RGB")), segment_figure(probs, image, grid_hw=(4, 6))
        )


@pytest.mark.parametrize("channels,mode", [(1, "L"), (3, "RGB"), (4, "RGBA")])
def test_write_png_channels(tmp_path, channels, mode):
    image = np.random.default_rng(2).integers(0, 256, (5, 7, channels), dtype=np.uint8)
    path = write_png(tmp_path / "x.png", image)
    with Image.open(path) as png:
        assert png.mode == mode
        np.testing.assert_array_equal(np.asarray(png).reshape(5, 7, channels), image)


def test_write_png_rejects_bad_arrays(tmp_path):
    with pytest.raises(ValueError, match="float32"):
        write_png(tmp_path / "bad.png", np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ValueError, match=r"\(4, 4, 2\)"):
        write_png(tmp_path / "bad.png", np.zeros((4, 4, 2), np.uint8))
    assert not (tmp_path / "bad.png").exists()  # nothing half-written


def test_viz_imports_neither_tensorflow_nor_matplotlib():
    code = (
        "import sys, ylg_tf.viz; "
        "print(sorted(m for m in ('tensorflow', 'matplotlib', 'keras') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_segments_of_a_bipartite_layer(tmp_path):
    from ylg_tf.layers import BipartiteAttention

    rng = np.random.default_rng(3)
    x = rng.normal(size=(1, 8, 8, 16)).astype(np.float32)
    latents = rng.normal(size=(1, 16, 8)).astype(np.float32)
    _, probs = BipartiteAttention("duplex", heads=2)(x, latents, return_attention_scores=True)
    segments = segment_map(np.asarray(probs)[0])
    assert segments.shape == (8, 8) and segments.min() >= 0 and segments.max() < 16
    path = write_segment_png(tmp_path / "layer.png", np.asarray(probs)[0])
    with Image.open(path) as png:
        assert png.size == (128, 128)
