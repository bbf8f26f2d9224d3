"""SAGAN's projection discriminator with one attention layer, exposing D0 for inversion."""

from __future__ import annotations

import keras
from keras import ops

from ylg_tf.layers import ResidualBlockDown, sn_dense
from ylg_tf.models.architecture import (
    DEFAULT_ATTENTION_RESOLUTION,
    discriminator_plan,
    place_blocks,
)
from ylg_tf.models.variants import attention_layer, get_variant


@keras.saving.register_keras_serializable(package="ylg_tf")
class Discriminator(keras.Model):
    """Image and class label -> real/fake logit (hinge loss), Miyato & Koyama's projection.

    Residual down-blocks -> [attention after the block at `attention_resolution`, unless the
    variant has `in_discriminator=False`] -> more blocks -> ReLU -> global sum pool -> SN linear
    + <SN class embedding, features>. `residual_resolution` adds SAGAN's "Residual" control
    (Table 1): a non-downsampling residual block of the same width after the first block at
    that resolution.
    `d0(images)` returns the features right before the attention layer, which YLG's inversion
    compares (docs/background.md, Inversion).

    Args:
      resolution: input size, 32, 64 or 128.
      num_classes: number of class labels (1 for unconditional data).
      base_channels: width unit; block channels are multiples of it (`architecture.py`).
      variant: registered attention variant (`ylg_tf.models.VARIANTS`).
      attention_resolution: feature resolution after which the attention layer sits.
      residual_resolution: feature resolution after which the residual control sits; 0 for
        none. It may not follow the block the attention layer follows.

    Call arguments:
      inputs: `(images [B, R, R, 3] in [-1, 1], labels [B] int)`.
      training: spectral-norm power iterations update in training mode.
      return_attention_scores: also return the attention probabilities, as `(logits, probs)`
        with `probs` a tuple of per-layer maps like the generator's: `(map,)` with the attention
        layer, `()` without. Without it the layer is not asked for probabilities.
    """

    def __init__(
        self,
        resolution: int = 32,
        num_classes: int = 10,
        base_channels: int = 64,
        variant: str = "ylg",
        attention_resolution: int | None = None,
        residual_resolution: int = 0,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.resolution = resolution
        self.num_classes = num_classes
        self.base_channels = base_channels
        self.variant = variant
        self.attention_resolution = attention_resolution or DEFAULT_ATTENTION_RESOLUTION.get(
            resolution
        )
        self.residual_resolution = residual_resolution
        plan = discriminator_plan(resolution, base_channels)
        spec = get_variant(variant)
        (self._attention_after,), self._residual_after = place_blocks(
            [size for *_, size in plan],
            [self.attention_resolution],
            residual_resolution,
            has_attention=spec.has_attention and spec.in_discriminator,
            fields=("Discriminator attention_resolution", "Discriminator residual_resolution"),
        )
        self.blocks = [
            ResidualBlockDown(
                channels, downsample=downsample, preactivation=k > 0, name=f"block_{k}"
            )
            for k, (channels, downsample, _) in enumerate(plan)
        ]
        self.residual_block = None
        if self._residual_after is not None:
            self.residual_block = ResidualBlockDown(
                plan[self._residual_after][0], downsample=False, name="residual"
            )
        self.attention = None
        if spec.in_discriminator:
            self.attention = attention_layer(spec, plan[self._attention_after][0], "attention")
        self.linear = sn_dense(1, name="linear")
        # <embed(y), h> == (h @ E^T)[y]: an SN dense layer holds the class embedding E.
        self.projection = sn_dense(num_classes, use_bias=False, name="projection")

    def d0(self, images, training=None):
        """Features before the attention layer ("D0" of YLG's inversion)."""
        return self._run_blocks(images, range(self._attention_after + 1), training)

    def _run_blocks(self, h, indices, training):
        """Blocks `indices` in order, with the residual control after its block."""
        for k in indices:
            h = self.blocks[k](h, training=training)
            if k == self._residual_after:
                h = self.residual_block(h, training=training)
        return h

    def call(self, inputs, training=None, return_attention_scores: bool = False):
        images, labels = inputs
        h = self.d0(images, training=training)
        probs = ()
        if self.attention is not None and return_attention_scores:
            h, layer_probs = self.attention(h, training=training, return_attention_scores=True)
            probs = (layer_probs,)
        elif self.attention is not None:
            h = self.attention(h, training=training)
        h = self._run_blocks(h, range(self._attention_after + 1, len(self.blocks)), training)
        h = ops.sum(ops.relu(h), axis=(1, 2))
        projected = ops.take_along_axis(
            self.projection(h, training=training),
            ops.expand_dims(ops.cast(labels, "int32"), -1),
            axis=1,
        )
        logits = ops.cast(self.linear(h, training=training) + projected, "float32")[:, 0]
        return (logits, probs) if return_attention_scores else logits

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            resolution=self.resolution,
            num_classes=self.num_classes,
            base_channels=self.base_channels,
            variant=self.variant,
            attention_resolution=self.attention_resolution,
            residual_resolution=self.residual_resolution,
        )
        return config
