"""SAGAN's class-conditional ResNet generator with one attention layer."""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import ops

from ylg_tf.layers import ResidualBlockUp, sn_conv, sn_dense
from ylg_tf.models.architecture import (
    DEFAULT_ATTENTION_RESOLUTION,
    attention_block,
    generator_plan,
)
from ylg_tf.models.variants import attention_layer, get_variant


@keras.saving.register_keras_serializable(package="ylg_tf")
class Generator(keras.Model):
    """z and a class label -> image in [-1, 1] (SAGAN/BigGAN style, spectral norm everywhere).

    z -> SN linear -> 4x4 -> residual up-blocks with conditional batch norm -> [attention after
    the block at `attention_resolution`] -> BN, ReLU, SN 3x3 conv -> tanh.

    Args:
      resolution: output size, 32, 64 or 128.
      num_classes: number of class labels (1 for unconditional data).
      z_dim: latent size (128 in SAGAN).
      base_channels: width unit; block channels are multiples of it (`architecture.py`).
      channel_multipliers: override the per-block multipliers.
      variant: registered attention variant (`ylg_tf.models.VARIANTS`).
      attention_resolution: feature resolution after which the attention layer sits.
      bn_momentum: batch-norm moving-average momentum.
      synchronized_bn: synchronize batch statistics across replicas.

    Call arguments:
      inputs: `(z [B, z_dim], labels [B] int)`.
      training: batch statistics and spectral-norm updates in training mode.
      return_attention_scores: also return the attention probabilities (None without attention).
    """

    def __init__(
        self,
        resolution: int = 32,
        num_classes: int = 10,
        z_dim: int = 128,
        base_channels: int = 64,
        channel_multipliers: Sequence[int] | None = None,
        variant: str = "ylg",
        attention_resolution: int | None = None,
        bn_momentum: float = 0.99,
        synchronized_bn: bool = False,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.resolution = resolution
        self.num_classes = num_classes
        self.z_dim = z_dim
        self.base_channels = base_channels
        self.channel_multipliers = channel_multipliers
        self.variant = variant
        self.attention_resolution = attention_resolution or DEFAULT_ATTENTION_RESOLUTION.get(
            resolution
        )
        self.bn_momentum = bn_momentum
        self.synchronized_bn = synchronized_bn

        plan = generator_plan(resolution, base_channels, channel_multipliers)
        self._first_channels = plan[0][0]
        self._attention_after = attention_block(
            [size for _, size in plan], self.attention_resolution, "Generator"
        )
        self.linear = sn_dense(16 * self._first_channels, name="linear")
        self.blocks = [
            ResidualBlockUp(
                channels,
                num_classes,
                momentum=bn_momentum,
                synchronized=synchronized_bn,
                name=f"block_{k}",
            )
            for k, (channels, _) in enumerate(plan)
        ]
        self.attention = attention_layer(
            get_variant(variant), plan[self._attention_after][0], name="attention"
        )
        self.output_norm = keras.layers.BatchNormalization(
            momentum=bn_momentum, synchronized=synchronized_bn, name="output_norm"
        )
        self.output_conv = sn_conv(3, 3, name="output_conv")

    def call(self, inputs, training=None, return_attention_scores: bool = False):
        z, labels = inputs
        h = ops.reshape(self.linear(z, training=training), (-1, 4, 4, self._first_channels))
        probs = None
        for k, block in enumerate(self.blocks):
            h = block(h, labels, training=training)
            if k == self._attention_after and self.attention is not None:
                h, probs = self.attention(h, training=training, return_attention_scores=True)
        h = ops.relu(self.output_norm(h, training=training))
        images = ops.cast(ops.tanh(self.output_conv(h, training=training)), "float32")
        return (images, probs) if return_attention_scores else images

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            resolution=self.resolution,
            num_classes=self.num_classes,
            z_dim=self.z_dim,
            base_channels=self.base_channels,
            channel_multipliers=self.channel_multipliers,
            variant=self.variant,
            attention_resolution=self.attention_resolution,
            bn_momentum=self.bn_momentum,
            synchronized_bn=self.synchronized_bn,
        )
        return config
