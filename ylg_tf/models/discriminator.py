"""SAGAN's projection discriminator with one attention layer, exposing D0 for inversion."""

from __future__ import annotations

import keras
from keras import ops

from ylg_tf.layers import ResidualBlockDown, sn_dense
from ylg_tf.models.architecture import (
    DEFAULT_ATTENTION_RESOLUTION,
    attention_block,
    discriminator_plan,
)
from ylg_tf.models.variants import attention_layer, get_variant


@keras.saving.register_keras_serializable(package="ylg_tf")
class Discriminator(keras.Model):
    """Image and class label -> real/fake logit (hinge loss), Miyato & Koyama's projection.

    Residual down-blocks -> [attention after the block at `attention_resolution`, unless the
    variant has `in_discriminator=False`] -> more blocks -> ReLU -> global sum pool -> SN linear
    + <SN class embedding, features>.
    `d0(images)` returns the features right before the attention layer, which YLG's inversion
    compares (REFERENCE.md §2).

    Args:
      resolution: input size, 32, 64 or 128.
      num_classes: number of class labels (1 for unconditional data).
      base_channels: width unit; block channels are multiples of it (`architecture.py`).
      variant: registered attention variant (`ylg_tf.models.VARIANTS`).
      attention_resolution: feature resolution after which the attention layer sits.

    Call arguments:
      inputs: `(images [B, R, R, 3] in [-1, 1], labels [B] int)`.
      training: spectral-norm power iterations update in training mode.
      return_attention_scores: also return the attention probabilities (None without attention).
    """

    def __init__(
        self,
        resolution: int = 32,
        num_classes: int = 10,
        base_channels: int = 64,
        variant: str = "ylg",
        attention_resolution: int | None = None,
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
        plan = discriminator_plan(resolution, base_channels)
        self._attention_after = attention_block(
            [size for *_, size in plan], self.attention_resolution, "Discriminator"
        )
        self.blocks = [
            ResidualBlockDown(
                channels, downsample=downsample, preactivation=k > 0, name=f"block_{k}"
            )
            for k, (channels, downsample, _) in enumerate(plan)
        ]
        spec = get_variant(variant)
        self.attention = None
        if spec.in_discriminator:
            self.attention = attention_layer(spec, plan[self._attention_after][0], "attention")
        self.linear = sn_dense(1, name="linear")
        # <embed(y), h> == (h @ E^T)[y]: an SN dense layer holds the class embedding E.
        self.projection = sn_dense(num_classes, use_bias=False, name="projection")

    def d0(self, images, training=None):
        """Features before the attention layer ("D0" of YLG's inversion)."""
        h = images
        for block in self.blocks[: self._attention_after + 1]:
            h = block(h, training=training)
        return h

    def call(self, inputs, training=None, return_attention_scores: bool = False):
        images, labels = inputs
        h = self.d0(images, training=training)
        probs = None
        if self.attention is not None:
            h, probs = self.attention(h, training=training, return_attention_scores=True)
        for block in self.blocks[self._attention_after + 1 :]:
            h = block(h, training=training)
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
        )
        return config
