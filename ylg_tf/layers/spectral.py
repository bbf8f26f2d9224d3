"""Spectral normalization as Miyato et al. (2018), SAGAN and TF-GAN define it.

The trainable kernel is the unnormalized W. The layer computes with W / sigma(W), where sigma is
estimated from W, reshaped to a matrix [k*k*C_in, C_out], and a persistent non-trainable vector u
(in the C_out space) by one power-iteration step: v = normalize(W u), u' = normalize(W^T v),
sigma = v^T W u'. u and v are held constant in the gradient, so with G = dL/d(W / sigma)

    dL/dW = G / sigma - (<G, W> / sigma^2) v u'^T,

the second term being what Keras's own `SpectralNormalization` lacks (it writes W / sigma back
into the kernel and differentiates with respect to the stored kernel). The normalized kernel is a
function of (W, u) alone; a training call also stores u', inference leaves u as it is.

Precision: the wrapper's own policy is the variables' dtype (float32) and it does not autocast,
so with or without an enclosing mixed-precision layer it reads W, u and the bias in float32 and
runs the power iteration and the division in float32 (a wrapper with a mixed policy would get its
variables cast to half precision whenever it is called on its own). The normalized kernel, the
bias and the inputs are then cast to the wrapped layer's compute dtype, in which the convolution
or matmul runs and which the output has.

Replicas: under `tf.distribute` (MirroredStrategy, TPUStrategy) W is mirrored, so every replica
computes the same u' from the same W and u; u is created with `ONLY_FIRST_REPLICA` aggregation
(as TF-GAN does), so the update is the first replica's value written to all of them and the
copies cannot drift apart even by rounding. Under JAX, `u.assign` in `call` is returned by
`stateless_call` as a non-trainable variable update.

`sn_conv` and `sn_dense` take `spectral_norm=False` for SAGAN's "SN on D only" baseline: the
plain layer then stands where the wrapper would, under the wrapper's name.

Reference: Miyato et al., "Spectral Normalization for Generative Adversarial Networks",
https://arxiv.org/abs/1802.05957.
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="ylg_tf")
class SpectralNormalization(keras.layers.Wrapper):
    """Runs a `Conv2D` or `Dense` with its kernel divided by the kernel's spectral norm.

    Weights: the wrapped layer's `kernel` (unnormalized W) and `bias`, and `vector_u`
    ([1, C_out], non-trainable, float32).

    Args:
        layer: a `keras.layers.Conv2D` or `keras.layers.Dense` (channels last).
        **kwargs: base layer arguments (`name`); the policy is the wrapped layer's variable
            dtype and `autocast` is False.

    Call arguments:
        inputs: the wrapped layer's input.
        training: when True, the power-iteration vector u is advanced by one step.
    """

    def __init__(self, layer: keras.layers.Layer, **kwargs):
        if not isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
            raise ValueError(
                f"SpectralNormalization wraps a Conv2D or Dense layer; got {type(layer).__name__}."
            )
        if getattr(layer, "data_format", "channels_last") != "channels_last":
            raise ValueError(f"data_format={layer.data_format!r}; expected 'channels_last'.")
        kwargs.update(dtype=layer.dtype_policy.variable_dtype, autocast=False)
        super().__init__(layer, **kwargs)
        self.vector_u_initializer = keras.initializers.TruncatedNormal(stddev=0.02)

    def build(self, input_shape):
        super().build(input_shape)
        self.vector_u = self.add_weight(
            shape=(1, self.layer.kernel.shape[-1]),
            initializer=self.vector_u_initializer,
            trainable=False,
            name="vector_u",
            dtype=self.variable_dtype,
            aggregation="only_first_replica",
        )

    def normalized_kernel_and_next_u(self):
        """(W / sigma(W, u), u') in float32, u and v held constant in the gradient."""
        kernel = ops.convert_to_tensor(self.layer.kernel)
        matrix = ops.reshape(kernel, (-1, kernel.shape[-1]))
        vector_u = ops.convert_to_tensor(self.vector_u)
        vector_v = ops.stop_gradient(ops.normalize(ops.matmul(vector_u, ops.transpose(matrix))))
        next_u = ops.stop_gradient(ops.normalize(ops.matmul(vector_v, matrix)))
        sigma = ops.sum(ops.matmul(vector_v, matrix) * next_u)
        return ops.divide(kernel, sigma), next_u

    def normalized_kernel(self):
        """W / sigma(W, u) in float32: the kernel the next call computes with."""
        return self.normalized_kernel_and_next_u()[0]

    def call(self, inputs, training=False):
        kernel, next_u = self.normalized_kernel_and_next_u()
        if training:
            self.vector_u.assign(next_u)
        dtype = self.layer.compute_dtype
        kernel, inputs = ops.cast(kernel, dtype), ops.cast(inputs, dtype)
        if isinstance(self.layer, keras.layers.Conv2D):
            outputs = self.layer.convolution_op(inputs, kernel)
        else:
            outputs = ops.matmul(inputs, kernel)
        if self.layer.use_bias:
            outputs = ops.add(outputs, ops.cast(self.layer.bias, dtype))
        if self.layer.activation is not None:
            outputs = self.layer.activation(outputs)
        return outputs

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)


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
    return SpectralNormalization(conv, name=name) if spectral_norm else conv


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
    return SpectralNormalization(dense, name=name) if spectral_norm else dense
