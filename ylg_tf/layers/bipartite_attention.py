"""GANformer's bipartite attention: image features attend to a small set of k latents."""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

from ylg_tf.layers._common import (
    attention_probs,
    check_bool,
    check_image_shape,
    check_positive_int,
)
from ylg_tf.layers.spectral import sn_dense

MODES = ("simplex", "duplex")
INTEGRATIONS = ("film", "multiplicative")
#: Added to the variance (or mean square) before the reciprocal square root of the normalization.
NORM_EPSILON = 1e-5


def sinusoidal_position_encoding_2d(height: int, width: int, channels: int) -> np.ndarray:
    """GANformer's fixed 2-D sinusoidal encoding of an `height x width` grid, `[H * W, C]`.

    Coordinates run over [-1, 1] along each axis (so a relative location gets the same code at
    every resolution), and with `d = C // 4` frequencies `w_i = 10000 ** (-4 i / C)`,
    `i = 0 .. d - 1`, the cell in row `r` and column `c` is encoded as
    `[sin(x_c w), cos(x_c w), sin(y_r w), cos(y_r w)]` (four blocks of `d` channels), with
    `x = linspace(-1, 1, W)` and `y = linspace(-1, 1, H)`: the official code's `sinus` encoding.

    Args:
        height: grid rows.
        width: grid columns.
        channels: encoding size, a multiple of 4.

    Returns:
        float32 `[height * width, channels]`, cells flattened row-major.
    """
    height = check_positive_int(height, "height")
    width = check_positive_int(width, "width")
    channels = check_positive_int(channels, "channels")
    if channels % 4:
        raise ValueError(
            f"A 2-D sinusoidal encoding needs a multiple of 4 channels (sin and cos along two "
            f"axes), got channels={channels}."
        )
    frequencies = 10000.0 ** (-4.0 * np.arange(channels // 4) / channels)
    x = np.linspace(-1.0, 1.0, width)[:, None] * frequencies  # [W, C / 4]
    y = np.linspace(-1.0, 1.0, height)[:, None] * frequencies  # [H, C / 4]
    half = channels // 2
    x = np.broadcast_to(np.concatenate([np.sin(x), np.cos(x)], -1)[None], (height, width, half))
    y = np.broadcast_to(np.concatenate([np.sin(y), np.cos(y)], -1)[:, None], (height, width, half))
    return np.concatenate([x, y], axis=-1).reshape(height * width, channels).astype("float32")


@keras.saving.register_keras_serializable(package="ylg_tf")
class BipartiteAttention(keras.layers.Layer):
    """GANformer bipartite attention: the `n = H W` image positions attend to `k` latents.

    With `X` the image features `[n, C]` plus their fixed 2-D sinusoidal encoding `P`
    (`sinusoidal_position_encoding_2d`, added before the query projection), `Y` the latents
    `[k, d]` plus a learned per-latent embedding `E` (added before the key projection), and
    spectral-normalized projections split over `heads` heads of `C // heads` channels:

    - `"simplex"` (latents -> image): `a = softmax(q(X + P) k(Y + E)^T / sqrt(C / heads))`,
      attended values `A = a v(Y)`.
    - `"duplex"`: the latent keys `K = k(Y + E)` are first refined into centroids of the image,
      `K <- Attention(K, Q, Q) = softmax(K Q^T / sqrt(C / heads)) Q` with `Q = q(X + P)`
      (each latent attends over the image positions and takes the weighted mean of their
      queries, one soft k-means step), then the image attends to `(K, v(Y))` as in simplex.
      The paper's full duplex also updates the latents from the image; here the latents are
      read-only (one set per generator), so the refinement stays inside the layer.

    The attended values control the scale and bias of the normalized image features
    (multiplicative integration, Hudson & Zitnick eq. 7), with `[g, b] = W A + c`:

    - `integration="film"` (default, the paper's equation, docs/background.md):
      `u = (1 + g) * standardize(X) + b`, standardizing each position over its channels.
      The gain is centred on 1 so that small modulation weights leave the features as they are.
    - `integration="multiplicative"` (the official code's default, `integration="mul"`,
      `norm="layer"`): `u = (1 + g) * X / rms(X)`, no bias and no mean subtraction.

    With `residual=True` (default) the output is `X + gate * (u - X)` with a scalar `gate`
    initialized to 0, so that, like SAGAN's `gamma`, a freshly built layer is the identity and
    the generator starts as its attention-free baseline; `gate = 1` is the paper's layer.
    `residual=False` returns `u` itself. Logits are scaled by `1 / sqrt(head size)` as in
    GANformer (SAGAN's layers are not); softmax runs in float32. Cost: `O(n k C)` for the
    attention and `O(n C^2)` for the projections, linear in `n`, against SAGAN's `O(n^2)`.

    Args:
        mode: `"simplex"` or `"duplex"`.
        num_latents: `k`, the number of latents the layer expects (GANformer: 8..32, 16 here).
        heads: attention heads; `C` must be divisible by it.
        integration: `"film"` or `"multiplicative"` (see above).
        residual: blend the update into the input through a zero-initialized `gate`.
        spectral_norm: spectral-normalize the projections (False: SAGAN's "SN on D only"
            baseline; the layer lives in the generator).
        **kwargs: base layer arguments (`name`, `dtype`, `trainable`).

    Call arguments:
        x: image features `[batch, height, width, channels]`, static height and width (the
            position encoding depends on them), channels a multiple of 4 and of `heads`.
        latents: `[batch, num_latents, latent_dim]`, e.g. a linear map of z (the generator
            derives them; the layer holds only their learned position embeddings).
        training: in training mode each spectral-norm power iteration advances its vector u
            (the kernels themselves are never rewritten).
        return_attention_scores: also return the latent -> image attention probabilities.

    Returns:
        `[batch, height, width, channels]`, and with `return_attention_scores=True` also the
        probabilities `[batch, heads, height * width, num_latents]`: row `i` is how image
        position `i` (row-major) distributes its attention over the latents (rows sum to 1).
        `ylg_tf.viz.segments` turns them into a segment map.

    Example:
    ```python
    x = np.random.normal(size=(2, 16, 16, 64)).astype("float32")
    latents = np.random.normal(size=(2, 16, 32)).astype("float32")
    layer = ylg_tf.layers.BipartiteAttention(mode="duplex")
    y, probs = layer(x, latents, return_attention_scores=True)  # probs: (2, 1, 256, 16)
    ```

    References:
        - [Hudson & Zitnick, Generative Adversarial Transformers, 2021](https://arxiv.org/abs/2103.01209)
        - [Vaswani et al., Attention Is All You Need, 2017](https://arxiv.org/abs/1706.03762)
        - [Perez et al., FiLM, 2017](https://arxiv.org/abs/1709.07871)
    """

    def __init__(
        self,
        mode: str = "simplex",
        num_latents: int = 16,
        heads: int = 1,
        integration: str = "film",
        residual: bool = True,
        spectral_norm: bool = True,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if mode not in MODES:
            raise ValueError(f"Unknown mode={mode!r}; expected one of {MODES}.")
        if integration not in INTEGRATIONS:
            raise ValueError(
                f"Unknown integration={integration!r}; expected one of {INTEGRATIONS}."
            )
        self.mode = mode
        self.num_latents = check_positive_int(num_latents, "num_latents")
        self.heads = check_positive_int(heads, "heads")
        self.integration = integration
        self.residual = check_bool(residual, "residual")
        self.spectral_norm = check_bool(spectral_norm, "spectral_norm")
        self.supports_masking = False

    def build(self, x_shape: tuple, latents_shape: tuple) -> None:
        name = type(self).__name__
        height, width, channels = check_image_shape(x_shape, name, static_hw=True)
        if channels % 4 or channels % self.heads:
            raise ValueError(
                f"{name} adds a 2-D sinusoidal encoding (4 parts) to the image features and "
                f"splits them over heads={self.heads} heads, so the channels must be a multiple "
                f"of 4 and of {self.heads}, got channels={channels}."
            )
        if len(latents_shape) != 3 or latents_shape[-1] is None:
            raise ValueError(
                f"{name} expects latents [batch, num_latents, latent_dim] with a known "
                f"latent_dim, got latents shape {tuple(latents_shape)}."
            )
        if latents_shape[1] != self.num_latents:
            raise ValueError(
                f"{name} was configured with num_latents={self.num_latents}, got latents "
                f"shape {tuple(latents_shape)}."
            )
        latent_dim = int(latents_shape[-1])
        self._grid = (height, width)
        self._channels = channels
        self._head_size = channels // self.heads
        # Derived from the config, so it is recomputed on load rather than saved.
        self._positions = sinusoidal_position_encoding_2d(height, width, channels)

        flat_shape = (x_shape[0], height * width, channels)
        control = 2 * channels if self.integration == "film" else channels
        args = dict(dtype=self.dtype_policy, spectral_norm=self.spectral_norm)
        self.query = sn_dense(channels, "query", use_bias=False, **args)
        self.key = sn_dense(channels, "key", use_bias=False, **args)
        self.value = sn_dense(channels, "value", use_bias=False, **args)
        self.modulation = sn_dense(control, "modulation", **args)
        self.query.build(flat_shape)
        self.key.build(tuple(latents_shape))
        self.value.build(tuple(latents_shape))
        self.modulation.build(flat_shape)
        self.latent_embedding = self.add_weight(
            name="latent_embedding",
            shape=(self.num_latents, latent_dim),
            initializer=keras.initializers.RandomNormal(stddev=1.0),
            trainable=True,
        )
        if self.residual:
            self.gate = self.add_weight(name="gate", shape=(), initializer="zeros")
        self.built = True

    def _split_heads(self, x):
        """`[batch, m, C]` -> `[batch, heads, m, C // heads]`."""
        x = ops.reshape(x, (-1, ops.shape(x)[1], self.heads, self._head_size))
        return ops.transpose(x, (0, 2, 1, 3))

    def _integrate(self, x, control):
        """Normalizes `x [batch, n, C]` over channels and modulates it by `control`, in float32."""
        x32 = ops.cast(x, "float32")
        control = ops.cast(control, "float32")
        if self.integration == "film":
            mean = ops.mean(x32, axis=-1, keepdims=True)
            variance = ops.mean(ops.square(x32 - mean), axis=-1, keepdims=True)
            normalized = (x32 - mean) * ops.rsqrt(variance + NORM_EPSILON)
            gain, bias = ops.split(control, 2, axis=-1)
            updated = normalized * (1.0 + gain) + bias
        else:
            mean_square = ops.mean(ops.square(x32), axis=-1, keepdims=True)
            updated = x32 * ops.rsqrt(mean_square + NORM_EPSILON) * (1.0 + control)
        return ops.cast(updated, x.dtype)

    def call(self, x, latents, training=None, return_attention_scores: bool = False):
        height, width = self._grid
        cells, channels = height * width, self._channels
        flat = ops.reshape(x, (-1, cells, channels))
        positions = ops.cast(ops.convert_to_tensor(self._positions), flat.dtype)
        embedding = ops.cast(self.latent_embedding, latents.dtype)
        queries = self._split_heads(self.query(flat + positions, training=training))
        keys = self._split_heads(self.key(latents + embedding, training=training))
        values = self._split_heads(self.value(latents, training=training))
        scale = ops.cast(1.0 / math.sqrt(self._head_size), queries.dtype)
        if self.mode == "duplex":
            # Latents attend over the image: their keys become centroids of the image queries.
            assignments = attention_probs(keys * scale, queries)  # [batch, heads, k, n]
            keys = ops.matmul(ops.cast(assignments, queries.dtype), queries)
        probs = ops.cast(attention_probs(queries * scale, keys), values.dtype)  # [b, h, n, k]
        attended = ops.matmul(probs, values)  # [batch, heads, n, C // heads]
        attended = ops.reshape(ops.transpose(attended, (0, 2, 1, 3)), (-1, cells, channels))
        updated = self._integrate(flat, self.modulation(attended, training=training))
        if self.residual:
            updated = flat + ops.cast(self.gate, flat.dtype) * (updated - flat)
        outputs = ops.reshape(updated, (-1, height, width, channels))
        if return_attention_scores:
            return outputs, probs
        return outputs

    def compute_output_shape(self, x_shape: tuple, latents_shape: tuple) -> tuple:
        return tuple(x_shape)

    def compute_output_spec(self, x, latents, training=None, return_attention_scores: bool = False):
        outputs = keras.KerasTensor(x.shape, dtype=self.compute_dtype)
        if not return_attention_scores:
            return outputs
        batch, height, width, _ = x.shape
        probs_shape = (batch, self.heads, height * width, self.num_latents)
        return outputs, keras.KerasTensor(probs_shape, dtype=self.compute_dtype)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            {
                "mode": self.mode,
                "num_latents": self.num_latents,
                "heads": self.heads,
                "integration": self.integration,
                "residual": self.residual,
                "spectral_norm": self.spectral_norm,
            }
        )
        return config
