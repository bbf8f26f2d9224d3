"""Multi-head 2-D sparse attention: YLG's local sparse heads and the dense/mixed ablations."""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
from keras import ops

from ylg_tf.layers._common import (
    attention_probs,
    check_bool,
    check_image_shape,
    check_positive_int,
    max_pool_2x2,
)
from ylg_tf.layers.blocked_attention import blocked_attention, build_plan
from ylg_tf.layers.spectral import sn_conv
from ylg_tf.masks import CURVES, LAYOUT_NAMES, head_masks, layout_heads

IMPLEMENTATIONS = ("auto", "masked", "blocked")
#: `"auto"` computes a layout with sparse heads blocked from this many keys on, masked below.
AUTO_BLOCKED_MIN_KEYS = 64


def resolve_implementation(implementation: str, layout: str, num_keys: int) -> str:
    """The implementation `"auto"` stands for: `"masked"` or `"blocked"`.

    Rule: `"blocked"` for the `"dense"` layout (the same computation without a mask tensor,
    as fast or slightly faster) and for layouts with sparse heads on at least
    `AUTO_BLOCKED_MIN_KEYS` keys (a 16x16 query grid); `"masked"` for smaller sparse layers,
    where the gathers cost more than the dense scores they save. Measured forward + backward on
    2 CPU cores (`benchmarks/attention_benchmark.py`): on 16 keys masked is ~20% faster; on 64
    keys blocked is 1.1x (256 channels) to 1.5x (64 channels) faster at batch 32, ~10% slower at
    batch 4; from 144 keys on blocked is faster at every batch size (1.7-3.5x at 256 keys,
    6-7x at 1024 keys).
    """
    if implementation != "auto":
        return implementation
    if layout == "dense" or num_keys >= AUTO_BLOCKED_MIN_KEYS:
        return "blocked"
    return "masked"


@keras.saving.register_keras_serializable(package="ylg_tf")
class SparseAttention2D(keras.layers.Layer):
    """SAGAN's attention split over heads, each head restricted by a 2-D sparse mask.

    YLG computes the steps of a two-step sparse pattern in parallel, as different heads of one
    layer, and concatenates their values (so information reaches every output in two layers).
    The projections are SAGAN's (spectral-normalized 1x1 convolutions, query/key to `C // 8`,
    value to `C // 2`, keys and values 2x2 max-pooled, no `1/sqrt(d)` scaling, output 1x1
    convolution back to `C`, residual `x + gamma * o` with `gamma` initialized to 0); the
    query/key channels and the value channels are split over heads in contiguous groups.

    Head `h` may only attend where `head_masks(layout, (H, W), (H//2, W//2), curve, heads)[h]`
    is True; masked positions get probability exactly 0. Two implementations compute the same
    function: `"masked"` computes all `nq x nk` scores and masks them (O(n^2) time and memory),
    `"blocked"` (`ylg_tf.layers.blocked_attention`) computes only the allowed positions, grouped
    in ESA order, at O(n sqrt n), and dense heads densely without a mask. Their masks or index
    tables are derived from the config in `build` (never saved as weights); after `build`,
    `resolved_implementation` says which of the two runs.

    Args:
        layout: head layout from `ylg_tf.masks.LAYOUT_NAMES`: `"ylg"` (RTL/LTR, 8 heads),
            `"ylg_strided"` (Full-Information strided, 8), `"strided"` (8),
            `"dense_sparse"` (4 sparse + 4 dense) or `"dense"` (`heads` all-true heads).
        heads: number of heads for `"dense"` (default 1); the other layouts fix it (8), and
            passing another value is an error.
        curve: order in which ESA enumerates the key grid: `"manhattan"` (YLG), `"hilbert"`,
            or `"row_major"` (the "no ESA" ablation).
        key_widths: optional query/key channels per head, summing to `C // 8` (the
            mixed-resolution ablation: 8 dense heads of widths `[2, 2, 2, 2, 6, 6, 6, 6]` at
            `C // 8 = 32`). Default: `C // 8` split equally. Value channels are always split
            equally.
        implementation: `"masked"`, `"blocked"`, or `"auto"` (default): blocked for the dense
            layout and from `AUTO_BLOCKED_MIN_KEYS` keys on, masked below (see
            `resolve_implementation`; the outputs agree to float32 round-off either way).
        spectral_norm: spectral-normalize the four projections (False: SAGAN's "SN on D only"
            baseline, in the generator).
        **kwargs: base layer arguments (`name`, `dtype`, `trainable`).

    Call arguments:
        inputs: `[batch, height, width, channels]` with static, even height and width.
        training: in training mode each spectral-norm power iteration advances its vector u
            (the kernels themselves are never rewritten).
        return_attention_scores: also return the attention probabilities.

    Returns:
        `[batch, height, width, channels]`, and with `return_attention_scores=True` also the
        probabilities `[batch, heads, height * width, (height // 2) * (width // 2)]`, query
        and key cells flattened row-major.

    Example:
    ```python
    x = np.random.normal(size=(2, 32, 32, 256)).astype("float32")
    layer = ylg_tf.layers.SparseAttention2D(layout="ylg")
    y, probs = layer(x, return_attention_scores=True)  # probs: (2, 8, 1024, 256)
    ```

    References:
        - [Daras et al., Your Local GAN, 2020](https://arxiv.org/abs/1911.12287)
        - [Zhang et al., Self-Attention GANs, 2018](https://arxiv.org/abs/1805.08318)
        - [Child et al., Sparse Transformers, 2019](https://arxiv.org/abs/1904.10509)
    """

    def __init__(
        self,
        layout: str = "ylg",
        heads: int | None = None,
        curve: str = "manhattan",
        key_widths: Sequence[int] | None = None,
        implementation: str = "auto",
        spectral_norm: bool = True,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if layout not in LAYOUT_NAMES:
            raise ValueError(f"Unknown layout={layout!r}; expected one of {LAYOUT_NAMES}.")
        if curve not in CURVES:
            raise ValueError(f"Unknown curve={curve!r}; expected one of {CURVES}.")
        if implementation not in IMPLEMENTATIONS:
            raise ValueError(
                f"Unknown implementation={implementation!r}; expected one of {IMPLEMENTATIONS}."
            )
        if heads is not None:
            heads = check_positive_int(heads, "heads")
        num_heads = layout_heads(layout, heads)
        if key_widths is not None:
            key_widths = list(key_widths)
            try:
                key_widths = [check_positive_int(w, "w") for w in key_widths]
            except ValueError:
                raise ValueError(
                    f"key_widths entries must be integers >= 1, got key_widths={key_widths}."
                ) from None
            if len(key_widths) != num_heads:
                raise ValueError(
                    f"key_widths={key_widths} gives {len(key_widths)} widths, but layout "
                    f"{layout!r} has {num_heads} heads; pass one width per head."
                )
        self.layout = layout
        self.heads = heads
        self.curve = curve
        self.key_widths = key_widths
        self.implementation = implementation
        self.num_heads = num_heads
        self.spectral_norm = check_bool(spectral_norm, "spectral_norm")
        self.supports_masking = False

    def build(self, input_shape: tuple) -> None:
        name = type(self).__name__
        height, width, channels = check_image_shape(
            input_shape, name, even_because="max-pools keys and values 2x2", static_hw=True
        )
        if channels % 8:
            raise ValueError(
                f"{name} projects queries and keys to channels // 8, so the input channels must "
                f"be a multiple of 8, got channels={channels}."
            )
        key_dim, value_dim = channels // 8, channels // 2
        if value_dim % self.num_heads:
            raise ValueError(
                f"{name} splits channels // 2 = {value_dim} value channels over "
                f"{self.num_heads} heads; choose channels so that they divide evenly "
                f"(got channels={channels})."
            )
        if self.key_widths is None:
            if key_dim % self.num_heads:
                raise ValueError(
                    f"{name} splits channels // 8 = {key_dim} query/key channels over "
                    f"{self.num_heads} heads; choose channels so that they divide evenly, or pass "
                    f"key_widths (got channels={channels})."
                )
            widths = [key_dim // self.num_heads] * self.num_heads
        else:
            widths = list(self.key_widths)
            if sum(widths) != key_dim:
                raise ValueError(
                    f"key_widths={widths} sum to {sum(widths)}, but the input has "
                    f"channels // 8 = {key_dim} query/key channels (channels={channels})."
                )
        self._key_dim, self._value_dim = key_dim, value_dim
        self._grid = (height, width)
        self._num_queries = height * width
        self._num_keys = (height // 2) * (width // 2)
        self._head_width = max(widths)
        self._equal_widths = len(set(widths)) == 1
        # Unequal widths: gather each head's channels into a slot of the widest head's width and
        # zero the padding (zeros add nothing to dot products). Padded slots point at channel 0.
        offsets = np.cumsum([0, *widths[:-1]])
        slots = np.arange(self._head_width)
        valid = slots[None, :] < np.asarray(widths)[:, None]
        self._gather_index = np.where(valid, offsets[:, None] + slots[None, :], 0).reshape(-1)
        self._gather_valid = valid.reshape(-1).astype("float32")
        # Derived from the config, so it is recomputed on load rather than saved.
        key_hw = (height // 2, width // 2)
        self.resolved_implementation = resolve_implementation(
            self.implementation, self.layout, self._num_keys
        )
        if self.resolved_implementation == "blocked":
            self._plan = build_plan(self.layout, (height, width), key_hw, self.curve, self.heads)
        else:
            self._masks = head_masks(self.layout, (height, width), key_hw, self.curve, self.heads)

        args = dict(use_bias=False, dtype=self.dtype_policy, spectral_norm=self.spectral_norm)
        self.query_conv = sn_conv(key_dim, 1, "query", **args)
        self.key_conv = sn_conv(key_dim, 1, "key", **args)
        self.value_conv = sn_conv(value_dim, 1, "value", **args)
        self.output_conv = sn_conv(channels, 1, "output", **args)
        self.query_conv.build(input_shape)
        self.key_conv.build(input_shape)
        self.value_conv.build(input_shape)
        self.output_conv.build(tuple(input_shape[:3]) + (value_dim,))
        self.gamma = self.add_weight(name="gamma", shape=(), initializer="zeros", trainable=True)
        self.built = True

    def _split_key_heads(self, x):
        """`[batch, cells, C // 8]` -> `[batch, heads, cells, widest head width]`."""
        if not self._equal_widths:
            x = ops.take(x, self._gather_index, axis=-1)
            x = x * ops.cast(self._gather_valid, x.dtype)
        x = ops.reshape(x, (-1, ops.shape(x)[1], self.num_heads, self._head_width))
        return ops.transpose(x, (0, 2, 1, 3))

    def call(self, inputs, training=None, return_attention_scores: bool = False):
        height, width = self._grid
        heads = self.num_heads
        query = self.query_conv(inputs, training=training)
        key = max_pool_2x2(self.key_conv(inputs, training=training))
        value = max_pool_2x2(self.value_conv(inputs, training=training))
        query = self._split_key_heads(ops.reshape(query, (-1, self._num_queries, self._key_dim)))
        key = self._split_key_heads(ops.reshape(key, (-1, self._num_keys, self._key_dim)))
        value = ops.reshape(value, (-1, self._num_keys, heads, self._value_dim // heads))
        value = ops.transpose(value, (0, 2, 1, 3))

        if self.resolved_implementation == "blocked":
            # Dense probabilities are scattered only when asked for.
            result = blocked_attention(query, key, value, self._plan, return_attention_scores)
            attended, probs = result if return_attention_scores else (result, None)
        else:
            mask = ops.convert_to_tensor(self._masks)
            probs = ops.cast(attention_probs(query, key, mask), value.dtype)
            attended = ops.matmul(probs, value)
        # attended: [batch, heads, n_q, value_dim // heads]
        # Concatenate heads: head h fills value channels [h * d, (h + 1) * d).
        attended = ops.reshape(
            ops.transpose(attended, (0, 2, 1, 3)), (-1, height, width, self._value_dim)
        )
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
        probs_shape = (batch, self.num_heads, height * width, (height // 2) * (width // 2))
        return outputs, keras.KerasTensor(probs_shape, dtype=self.compute_dtype)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            {
                "layout": self.layout,
                "heads": self.heads,
                "curve": self.curve,
                "key_widths": None if self.key_widths is None else list(self.key_widths),
                "implementation": self.implementation,
                "spectral_norm": self.spectral_norm,
            }
        )
        return config
