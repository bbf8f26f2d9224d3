"""Target images for inversion: any image file made into the generator's format, with notes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["check_labels", "load_target"]

_GRAY_MODES = ("1", "L", "I", "I;16", "I;16B", "I;16L", "F")


def load_target(path: str | Path, resolution: int) -> tuple[np.ndarray, list[str]]:
    """Reads an image file as a float32 `[resolution, resolution, 3]` target in [-1, 1].

    Each conversion adds a note a person can read: grayscale is replicated to RGB, transparency
    is composited over white (so transparent pixels become white, as a viewer shows them), a
    palette image is expanded, a non-square image is centre-cropped to its largest square, and
    another size is resized (bilinear with antialiasing, as training images are).

    Raises:
      ValueError: naming `path`, when the file is missing or not a readable image.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    notes: list[str] = []
    try:
        with Image.open(path) as opened:
            opened.load()
            image = opened.copy()
    except (OSError, UnidentifiedImageError, ValueError) as error:
        raise ValueError(f"Cannot read {path} as an image: {error}") from error

    if image.mode == "P":
        has_alpha = "transparency" in image.info
        image = image.convert("RGBA" if has_alpha else "RGB")
        notes.append(f"{path.name}: palette image expanded to RGB.")
    if image.mode in ("LA", "La", "RGBA", "RGBa", "PA"):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba).convert("RGB")
        notes.append(f"{path.name}: transparency composited over white.")
    if image.mode in _GRAY_MODES:
        values = np.asarray(image, np.float64)
        if values.max(initial=0) > 255:  # 16-bit or float grayscale
            values = values * (255.0 / 65535.0)
        image = Image.fromarray(np.clip(np.round(values), 0, 255).astype(np.uint8), "L")
        image = image.convert("RGB")
        notes.append(f"{path.name}: grayscale converted to RGB.")
    if image.mode != "RGB":
        notes.append(f"{path.name}: {image.mode} converted to RGB.")
        image = image.convert("RGB")

    width, height = image.size
    if width != height:
        side = min(width, height)
        left, top = (width - side) // 2, (height - side) // 2
        image = image.crop((left, top, left + side, top + side))
        notes.append(f"{path.name}: {width}x{height} centre-cropped to {side}x{side}.")
    pixels = np.asarray(image, np.float32)
    if pixels.shape[0] != resolution:
        import tensorflow as tf

        side = pixels.shape[0]
        notes.append(f"{path.name}: resized {side}x{side} to {resolution}x{resolution}.")
        pixels = tf.image.resize(pixels, [resolution, resolution], "bilinear", antialias=True)
        pixels = np.asarray(pixels, np.float32)
    target = np.clip(pixels / 127.5 - 1.0, -1.0, 1.0).astype(np.float32)
    return target, notes


def check_labels(labels: Sequence[int] | np.ndarray, num_classes: int) -> np.ndarray:
    """Labels as int32, or a ValueError naming those outside `[0, num_classes)`."""
    array = np.asarray(labels).reshape(-1)
    if array.size and not np.issubdtype(array.dtype, np.integer):
        if not np.all(np.equal(np.mod(array, 1), 0)):
            raise ValueError(f"Labels must be integers, got {array.tolist()}.")
    bad = [int(v) for v in array if not 0 <= v < num_classes]
    if bad:
        raise ValueError(
            f"Label(s) {bad} outside the model's classes 0..{num_classes - 1} "
            f"({num_classes} classes)."
        )
    return array.astype(np.int32)
