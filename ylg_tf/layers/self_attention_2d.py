"""SAGAN's self-attention layer over a 2-D feature map."""

from __future__ import annotations

import keras
from keras import ops

from ylg_tf.layers._common import (
    attention_probs,
    check_bool,
    check_image_shape,
    max_pool_2x2,
)
from ylg_tf.layers.spectral import sn_conv


@keras.saving.register_keras_serializable(package="ylg_tf")
class SelfAttention2D(keras.layers.Layer):
    """SAGAN self-attention: every position attends to all (2x2-pooled) positions of the map.

    Query and key are spectral-normalized 1x1 convolutions to `C // 8` channels, value to
    `C // 2`; keys and values are 2x2 max-pooled, which quarters the attention cost, so an
    `H x W` query grid attends to an `(H/2) x (W/2)` key grid. Logits are plain dot products
    (no `1/sqrt(d)` scaling, as in the published code), the softmax runs over keys, and a
    spectral-normalized 1x1 convolution maps the `C // 2` value channels back to `C`. The result
    is added to the input through a scalar `gamma` initialized to 0, so a freshly built layer is
    the identity and the network learns how much non-local evidence to use.

    This is `SparseAttention2D(layout="dense", heads=1)` without a mask; it is kept as its own
    class because it is the SAGAN baseline and accepts any even height and width.

    Args:
        spectral_norm: spectral-normalize the four projections (False: SAGAN's "SN on D only"
            baseline, in the generator).
        **kwargs: base layer arguments (`name`, `dtype`, `trainable`).

    Call arguments:
        inputs: `[batch, height, width, channels]`, height and width even, channels a
            multiple of 8.
        training: in training mode each spectral-norm power iteration advances its vector u;
            the kernels stay W and the layers compute with W / sigma (unlike Keras's
            `SpectralNormalization`, which writes W / sigma back into the kernel).
        return_attention_scores: also return the attention probabilities.

    Returns:
        `[batch, height, width, channels]`, and with `return_attention_scores=True` also the
        probabilities `[batch, 1, height * width, (height // 2) * (width // 2)]`, query and key
        cells flattened row-major.

    Example:
    ```python
    x = np.random.normal(size=(2, 16, 16, 64)).astype("float32")
    layer = ylg_tf.layers.SelfAttention2D()
    y, probs = layer(x, return_attention_scores=True)  # probs: (2, 1, 256, 64)
    ```

    References:
        - [Zhang et al., Self-Attention Generative Adversarial Networks, 2018](https://arxiv.org/abs/1805.08318)
        - [Miyato et al., Spectral Normalization for GANs, 2018](https://arxiv.org/abs/1802.05957)
    """

    def __init__(self, spectral_norm: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        self.spectral_norm = check_bool(spectral_norm, "spectral_norm")
        self.supports_masking = False

    def build(self, input_shape: tuple) -> None:
        _, _, channels = check_image_shape(
            input_shape, type(self).__name__, even_because="max-pools keys and values 2x2"
        )
        if channels % 8:
            raise ValueError(
                f"{type(self).__name__} projects queries and keys to channels // 8, so the input "
                f"channels must be a multiple of 8, got channels={channels}."
            )
        self._key_dim = channels // 8
        self._value_dim = channels // 2
        args = dict(use_bias=False, dtype=self.dtype_policy, spectral_norm=self.spectral_norm)
        self.query_conv = sn_conv(self._key_dim, 1, "query", **args)
        self.key_conv = sn_conv(self._key_dim, 1, "key", **args)
        self.value_conv = sn_conv(self._value_dim, 1, "value", **args)
        self.output_conv = sn_conv(channels, 1, "output", **args)
        self.query_conv.build(input_shape)
        self.key_conv.build(input_shape)
        self.value_conv.build(input_shape)
        self.output_conv.build(tuple(input_shape[:3]) + (self._value_dim,))
        self.gamma = self.add_weight(name="gamma", shape=(), initializer="zeros", trainable=True)
        self.built = True

    def call(self, inputs, training=None, return_attention_scores: bool = False):
        shape = ops.shape(inputs)
        height, width = shape[1], shape[2]
        query = self.query_conv(inputs, training=training)
        key = max_pool_2x2(self.key_conv(inputs, training=training))
        value = max_pool_2x2(self.value_conv(inputs, training=training))
        # One head: [batch, 1, cells, channels].
        query = ops.reshape(query, (-1, 1, height * width, self._key_dim))
        key = ops.reshape(key, (-1, 1, (height // 2) * (width // 2), self._key_dim))
        value = ops.reshape(value, (-1, 1, (height // 2) * (width // 2), self._value_dim))
        probs = ops.cast(attention_probs(query, key), value.dtype)
        attended = ops.reshape(ops.matmul(probs, value), (-1, height, width, self._value_dim))
        outputs = inputs + ops.cast(self.gamma, inputs.dtype) * self.output_conv(
            attended, training=training
        )
        if return_attention_scores:
            return outputs, probs
        return outputs

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return tuple(input_shape)

    def compute_output_spec(self, inputs, training=None, return_attention_scores: bool = False):
        outputs = keras.KerasTensor(inputs.shape, dtype=self.compute_dtype)
        if not return_attention_scores:
            return outputs
        batch, height, width, _ = inputs.shape
        known = height is not None and width is not None
        n_q = height * width if known else None
        n_k = (height // 2) * (width // 2) if known else None
        return outputs, keras.KerasTensor((batch, 1, n_q, n_k), dtype=self.compute_dtype)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({"spectral_norm": self.spectral_norm})
        return config
