"""PNG writing through Pillow (installed with matplotlib), after a check that names a bad array."""

from __future__ import annotations

from pathlib import Path

import numpy as np

_MODES = {1: "L", 3: "RGB", 4: "RGBA"}  # channels -> Pillow mode


def write_png(path: str | Path, image: np.ndarray) -> Path:
    """Writes a uint8 `[H, W]` or `[H, W, C]` array (C = 1, 3 or 4) as a PNG file.

    The array is checked before the file system is touched, so nothing is half-written.
    """
    from PIL import Image  # only when a file is written: importing ylg_tf.viz stays light

    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., None]
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[-1] not in _MODES:
        raise ValueError(
            f"write_png expects a uint8 [H, W] or [H, W, C] array with C in (1, 3, 4), got "
            f"dtype={image.dtype} and shape={image.shape}."
        )
    if 0 in image.shape:
        raise ValueError(f"write_png needs a non-empty image, got shape={image.shape}.")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    channels = image.shape[-1]
    Image.fromarray(image[..., 0] if channels == 1 else image, _MODES[channels]).save(path)
    return path
