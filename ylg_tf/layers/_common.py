"""Small helpers shared by the layers of this package (private: the public API is the layers).

Everything here uses `keras.ops` only, so the layers built from it also run under Keras's JAX
backend.
"""

from __future__ import annotations

import numbers

import keras
from keras import ops


def check_positive_int(value: object, name: str) -> int:
    """Returns `value` as an int, or raises a ValueError naming it if it is not an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"`{name}` must be an integer >= 1, got {name}={value!r}.")
    return int(value)


def check_bool(value: object, name: str) -> bool:
    """Returns `value` if it is True or False, or raises a ValueError naming it."""
    if not isinstance(value, bool):
        raise ValueError(f"`{name}` must be True or False, got {name}={value!r}.")
    return value


def check_batch_norm_args(momentum: float, epsilon: float, synchronized: bool) -> None:
    """Raises a ValueError naming the first bad batch-norm argument."""
    if (
        isinstance(momentum, bool)
        or not isinstance(momentum, numbers.Real)
        or not 0 <= momentum < 1
    ):
        raise ValueError(f"`momentum` must be a number in [0, 1), got momentum={momentum!r}.")
    if isinstance(epsilon, bool) or not isinstance(epsilon, numbers.Real) or not epsilon > 0:
        raise ValueError(f"`epsilon` must be a number > 0, got epsilon={epsilon!r}.")
    check_bool(synchronized, "synchronized")


def check_image_shape(
    input_shape: tuple,
    layer: str,
    *,
    even_because: str | None = None,
    static_hw: bool = False,
) -> tuple[int | None, int | None, int]:
    """Checks an NHWC input shape early, so a wrong shape fails at build with a clear message.

    Args:
        input_shape: the shape passed to `build`.
        layer: the layer's class name, for the message.
        even_because: if given, height and width must be even, and this says why
            (e.g. "max-pools keys and values 2x2").
        static_hw: require height and width to be known (a sparse mask depends on them).

    Returns:
        `(height, width, channels)`; height and width may be None unless `static_hw`.
    """
    if len(input_shape) != 4:
        raise ValueError(
            f"{layer} expects NHWC inputs of rank 4, got input shape {tuple(input_shape)}."
        )
    _, height, width, channels = input_shape
    if channels is None:
        raise ValueError(
            f"{layer} needs a known channel count, got input shape {tuple(input_shape)}."
        )
    if static_hw and (height is None or width is None):
        raise ValueError(
            f"{layer} needs a known height and width (its masks depend on them), "
            f"got input shape {tuple(input_shape)}."
        )
    if even_because:
        for size, what in ((height, "height"), (width, "width")):
            if size is not None and size % 2:
                raise ValueError(
                    f"{layer} {even_because}, so the input {what} must be even, "
                    f"got {what}={size} (input shape {tuple(input_shape)})."
                )
    return height, width, int(channels)


def max_pool_2x2(x):
    """2x2 max-pool with stride 2: SAGAN's key/value downsampling."""
    return ops.max_pool(x, pool_size=2, strides=2, padding="valid")


def avg_pool_2x2(x):
    """2x2 average-pool with stride 2: the discriminator blocks' downsampling."""
    return ops.average_pool(x, pool_size=2, strides=2, padding="valid")


def upsample_2x(x):
    """2x nearest-neighbour upsampling of NHWC `x` (exact: every pixel repeated 2x2)."""
    return ops.repeat(ops.repeat(x, 2, axis=1), 2, axis=2)


def large_negative(dtype: str) -> float:
    """A logit that softmax turns into 0 without overflowing `dtype` (float16 tops out at 65504)."""
    return -3e4 if keras.backend.standardize_dtype(dtype) == "float16" else -1e9


def masked_softmax(logits, mask=None):
    """Softmax over the last axis whose masked positions get probability exactly 0.

    Masked logits are first replaced by a large negative value, so the softmax never sees -inf
    and an all-masked row cannot become NaN (it becomes uniform); multiplying by the mask then
    makes masked probabilities exactly 0, all-masked rows included.

    Args:
        logits: `[..., n_keys]` floating tensor.
        mask: optional boolean tensor broadcastable to `logits`; True means "may attend".

    Returns:
        Probabilities with the dtype of `logits`.
    """
    if mask is None:
        return ops.softmax(logits, axis=-1)
    logits = ops.where(mask, logits, ops.cast(large_negative(logits.dtype), logits.dtype))
    probs = ops.softmax(logits, axis=-1)
    return probs * ops.cast(mask, probs.dtype)


def attention_probs(query, key, mask=None):
    """Unscaled dot-product attention probabilities, computed in float32.

    SAGAN/YLG do not divide logits by sqrt(d), so under float16 the dot products can exceed
    65504; computing logits and softmax in float32 keeps them finite for a small cost (the
    `[batch, heads, n_q, n_k]` logits are small next to the convolutions around them).

    Args:
        query: `[batch, heads, n_q, depth]`.
        key: `[batch, heads, n_k, depth]`.
        mask: optional boolean `[heads, n_q, n_k]` (or broadcastable), True = may attend.

    Returns:
        float32 probabilities `[batch, heads, n_q, n_k]`.
    """
    query = ops.cast(query, "float32")
    key = ops.cast(key, "float32")
    logits = ops.matmul(query, ops.swapaxes(key, -1, -2))
    return masked_softmax(logits, mask)
