"""Inversion losses, one per method name, each per example so that restarts can be compared.

Every norm is a mean over its elements instead of a sum (a constant factor: the minimizer is the
same) so that losses read alike across resolutions and methods and the early-stop tolerance is
relative. Saliency weights are rescaled to mean 1 over their grid, so a uniform saliency turns
`"ylg"` into `"d_space"` and `"saliency_pixel"` into `"pixel"`.

- `"ylg"` (Solution 1, supplementary §1): mean over heads h of `|(D0(G(z)) - D0(x)) * S'_h|^2`.
- `"pixel"` (Bora et al. 2017): `|G(z) - x|^2`.
- `"saliency_pixel"` (supplementary §5.1): `|(G(z) - x) * S''|^2`, S'' = the saliency averaged
  over heads, resized to the image.
- `"d_space"` (supplementary §5.2): `|D0(G(z)) - D0(x)|^2`.
- `"ylg_heads"` (Solution 2): `"ylg"` over a chosen subset of heads (`heads=(0, 3)`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import tensorflow as tf

from ylg_tf.inversion.saliency import RESIZE_METHOD, saliency_tensor

__all__ = ["METHODS", "Target", "check_heads", "check_method", "inversion_loss", "prepare_target"]


@dataclasses.dataclass(frozen=True)
class Target:
    """What a loss compares G(z) with, computed once per target image.

    Attributes:
      images: `[B, R, R, 3]` target images x.
      features: `[B, h0, w0, C]` D0(x), or None when the method does not use D.
      head_weights: `[B, heads_used, h0, w0]` S'_h of the heads used, scaled to mean 1.
      pixel_weights: `[B, R, R]` S'' scaled to mean 1.
      saliency: `[B, heads, h0, w0]` every head's S'_h (each summing to 1), or None when D has
        no attention.
    """

    images: tf.Tensor
    features: tf.Tensor | None = None
    head_weights: tf.Tensor | None = None
    pixel_weights: tf.Tensor | None = None
    saliency: tf.Tensor | None = None

    def tile(self, times: int) -> Target:
        """The target repeated `times` along the batch (restart-major: row r*B + b is image b)."""

        def tiled(value):
            if value is None:
                return None
            return tf.tile(value, [times] + [1] * (value.shape.rank - 1))

        return Target(**{f.name: tiled(getattr(self, f.name)) for f in dataclasses.fields(self)})


def _mean_square(difference) -> tf.Tensor:
    return tf.reduce_mean(tf.square(difference), axis=list(range(1, difference.shape.rank)))


def _pixel(fake, target: Target, discriminator) -> tf.Tensor:
    del discriminator
    return _mean_square(fake - target.images)


def _saliency_pixel(fake, target: Target, discriminator) -> tf.Tensor:
    del discriminator
    return _mean_square((fake - target.images) * target.pixel_weights[..., None])


def _d_space(fake, target: Target, discriminator) -> tf.Tensor:
    return _mean_square(discriminator.d0(fake, training=False) - target.features)


def _weighted_heads(fake, target: Target, discriminator) -> tf.Tensor:
    difference = discriminator.d0(fake, training=False) - target.features  # [B, h0, w0, C]
    weighted = difference[:, None] * target.head_weights[..., None]  # [B, heads, h0, w0, C]
    return tf.reduce_mean(tf.square(weighted), axis=[1, 2, 3, 4])


LossFn = Callable[[tf.Tensor, Target, object], tf.Tensor]

#: Method name -> (loss function, uses D0 features, uses saliency).
_LOSSES: dict[str, tuple[LossFn, bool, bool]] = {
    "ylg": (_weighted_heads, True, True),
    "pixel": (_pixel, False, False),
    "saliency_pixel": (_saliency_pixel, False, True),
    "d_space": (_d_space, True, False),
    "ylg_heads": (_weighted_heads, True, True),
}

#: The inversion methods, the default first.
METHODS: tuple[str, ...] = tuple(_LOSSES)


def check_method(method: str) -> str:
    if method not in _LOSSES:
        raise ValueError(f"Unknown inversion method {method!r}; accepted: {', '.join(METHODS)}.")
    return method


def check_heads(method: str, heads: Sequence[int] | None, num_heads: int | None) -> tuple | None:
    """Validates `heads` for `method`: required by `"ylg_heads"`, refused by the others."""
    if method != "ylg_heads":
        if heads:
            raise ValueError(
                f"heads={tuple(heads)} applies only to method 'ylg_heads', not {method!r}."
            )
        return None
    if not heads:
        raise ValueError("Method 'ylg_heads' needs heads, e.g. heads=(0, 3).")
    heads = tuple(int(h) for h in heads)
    accepted = range(num_heads or 0)
    bad = [h for h in heads if h not in accepted]
    if bad or len(set(heads)) != len(heads):
        raise ValueError(
            f"heads={heads}: head indices must be distinct and in 0..{(num_heads or 0) - 1} "
            f"(D's attention has {num_heads} heads)."
        )
    return heads


def prepare_target(
    discriminator, images, labels, method: str = "ylg", heads: Sequence[int] | None = None
) -> Target:
    """Computes D0(x) and the saliency weights that `method` needs, once per target."""
    check_method(method)
    _, uses_d0, uses_saliency = _LOSSES[method]
    images = tf.convert_to_tensor(images, tf.float32)
    saliency = None
    if uses_saliency or getattr(discriminator, "attention", None) is not None:
        saliency = saliency_tensor(discriminator, images, labels)  # raises without attention
    heads = check_heads(method, heads, None if saliency is None else saliency.shape[1])
    features = discriminator.d0(images, training=False) if uses_d0 else None
    head_weights = pixel_weights = None
    if uses_saliency:
        cells = float(saliency.shape[2] * saliency.shape[3])
        head_weights = saliency * cells  # mean 1 per head
        if heads is not None:
            head_weights = tf.gather(head_weights, list(heads), axis=1)
        pixel = tf.reduce_mean(saliency, axis=1)[..., None]  # [B, h0, w0, 1]
        pixel = tf.image.resize(pixel, images.shape[1:3], method=RESIZE_METHOD)[..., 0]
        pixel_weights = pixel / tf.reduce_mean(pixel, axis=(1, 2), keepdims=True)
    return Target(images, features, head_weights, pixel_weights, saliency)


def inversion_loss(method: str, fake, target: Target, discriminator) -> tf.Tensor:
    """Per-example loss `[B]` of `method` between generated images `fake` and `target`."""
    return _LOSSES[check_method(method)][0](fake, target, discriminator)
