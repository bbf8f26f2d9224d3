"""Spectral normalization (Miyato et al., 2018) as the models use it: Keras's own wrapper.

In training mode Keras's `SpectralNormalization` writes the normalized kernel back into the kernel
variable. Under a mixed policy it would run that power iteration in float16/bfloat16 and so round
the float32 kernel to half precision on every step, losing small optimizer updates. Here the
wrapper gets the policy's variable dtype (float32) and `autocast=False`, so normalization always
runs in float32, with or without an enclosing layer, while the wrapped layer keeps the mixed
policy and computes in float16/bfloat16. The wrapper does not cast its inputs: the output has the
dtype of the input (layers under the same policy pass inputs in the compute dtype).

`sn_conv` and `sn_dense` take `spectral_norm=False` for SAGAN's "SN on D only" baseline: the
plain layer then stands where the wrapper would, under the wrapper's name.
"""

from __future__ import annotations

import keras


def spectral_normalized(
    layer: keras.layers.Layer, name: str, dtype: keras.DTypePolicy | str | None = None
) -> keras.layers.SpectralNormalization:
    """`layer` (with a `kernel`) wrapped in `SpectralNormalization` that normalizes in float32."""
    variable_dtype = keras.dtype_policies.get(dtype).variable_dtype  # None: the global policy
    return keras.layers.SpectralNormalization(
        layer, name=name, dtype=variable_dtype, autocast=False
    )


def sn_conv(
    filters: int,
    kernel_size: int,
    name: str,
    *,
    use_bias: bool = True,
    dtype: keras.DTypePolicy | str | None = None,
    spectral_norm: bool = True,
) -> keras.layers.Layer:
    """A spectral-normalized "same"-padded `Conv2D`; the convolution is named `{name}_conv2d`.

    Args:
        filters: output channels.
        kernel_size: square kernel size (1 or 3 here).
        name: the wrapper's name.
        use_bias: whether the convolution has a bias (attention projections have none).
        dtype: the dtype policy, normally the parent layer's `dtype_policy`.
        spectral_norm: False returns the bare `Conv2D`, named `name`.
    """
    conv = keras.layers.Conv2D(
        filters,
        kernel_size,
        padding="same",
        use_bias=use_bias,
        name=f"{name}_conv2d" if spectral_norm else name,
        dtype=dtype,
    )
    return spectral_normalized(conv, name, dtype) if spectral_norm else conv


def sn_dense(
    units: int,
    name: str,
    *,
    use_bias: bool = True,
    dtype: keras.DTypePolicy | str | None = None,
    spectral_norm: bool = True,
) -> keras.layers.Layer:
    """A spectral-normalized `Dense` named `{name}_dense` (`spectral_norm=False`: bare, `name`)."""
    dense = keras.layers.Dense(
        units, use_bias=use_bias, name=f"{name}_dense" if spectral_norm else name, dtype=dtype
    )
    return spectral_normalized(dense, name, dtype) if spectral_norm else dense
