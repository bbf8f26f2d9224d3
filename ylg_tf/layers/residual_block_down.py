"""The discriminator's (optionally downsampling) residual block (SAGAN / BigGAN)."""

from __future__ import annotations

import keras
from keras import ops

from ylg_tf.layers._common import (
    avg_pool_2x2,
    check_bool,
    check_image_shape,
    check_positive_int,
)
from ylg_tf.layers.spectral import sn_conv


@keras.saving.register_keras_serializable(package="ylg_tf")
class ResidualBlockDown(keras.layers.Layer):
    """Discriminator residual block: two SN 3x3 convolutions, optionally halving the resolution.

    Main path: [ReLU if `preactivation`] -> SN conv3x3 -> ReLU -> SN conv3x3 -> [2x2 average
    pool if `downsample`]. Shortcut: with `preactivation`, SN conv1x1 then average pool, and only
    when the block downsamples or changes the channel count (otherwise identity); without it
    (SAGAN's "optimized" first block, which sees raw images and must not ReLU them), average
    pool then SN conv1x1 - cheaper, and equal, since both operations are linear.

    Args:
        filters: output channels.
        downsample: halve height and width with 2x2 average pooling.
        preactivation: apply ReLU to the input of the main path; False for the first block.
        spectral_norm: spectral-normalize the convolutions (the discriminator always does; the
            argument keeps the block usable elsewhere).
        **kwargs: base layer arguments (`name`, `dtype`, `trainable`).

    Call arguments:
        inputs: `[batch, height, width, channels]`, height and width even if `downsample`.
        training: when True each spectral-norm power iteration advances its vector u (the
            kernels themselves are never rewritten).

    Returns:
        `[batch, height / 2, width / 2, filters]` if `downsample`, else
        `[batch, height, width, filters]`.

    Example:
    ```python
    block = ylg_tf.layers.ResidualBlockDown(filters=64, preactivation=False)
    y = block(np.ones((2, 32, 32, 3), "float32"))  # (2, 16, 16, 64)
    ```

    References:
        - [Zhang et al., Self-Attention GANs, 2018](https://arxiv.org/abs/1805.08318)
        - [Brock et al., Large Scale GAN Training (BigGAN), 2018](https://arxiv.org/abs/1809.11096)
        - [Miyato et al., Spectral Normalization for GANs, 2018](https://arxiv.org/abs/1802.05957)
    """

    def __init__(
        self,
        filters: int,
        downsample: bool = True,
        preactivation: bool = True,
        spectral_norm: bool = True,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.filters = check_positive_int(filters, "filters")
        self.downsample = check_bool(downsample, "downsample")
        self.preactivation = check_bool(preactivation, "preactivation")
        self.spectral_norm = check_bool(spectral_norm, "spectral_norm")

    def build(self, input_shape: tuple) -> None:
        even_because = "average-pools 2x2 (downsample=True)" if self.downsample else None
        _, _, channels = check_image_shape(
            input_shape, type(self).__name__, even_because=even_because
        )
        policy, sn = self.dtype_policy, self.spectral_norm
        self.conv_1 = sn_conv(self.filters, 3, "conv_1", dtype=policy, spectral_norm=sn)
        self.conv_2 = sn_conv(self.filters, 3, "conv_2", dtype=policy, spectral_norm=sn)
        self.conv_1.build(input_shape)
        self.conv_2.build(tuple(input_shape[:3]) + (self.filters,))
        self._learnable_shortcut = (
            self.downsample or channels != self.filters or not self.preactivation
        )
        if self._learnable_shortcut:
            self.shortcut_conv = sn_conv(
                self.filters, 1, "shortcut_conv", dtype=policy, spectral_norm=sn
            )
            self.shortcut_conv.build(input_shape)
        self.built = True

    def call(self, inputs, training=None):
        h = ops.relu(inputs) if self.preactivation else inputs
        h = self.conv_1(h, training=training)
        h = self.conv_2(ops.relu(h), training=training)
        shortcut = inputs
        if self.downsample:
            h = avg_pool_2x2(h)
        if self._learnable_shortcut:
            if self.preactivation:
                shortcut = self.shortcut_conv(shortcut, training=training)
                if self.downsample:
                    shortcut = avg_pool_2x2(shortcut)
            else:
                if self.downsample:
                    shortcut = avg_pool_2x2(shortcut)
                shortcut = self.shortcut_conv(shortcut, training=training)
        return h + shortcut

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        batch, height, width, _ = input_shape
        if self.downsample:
            height = None if height is None else height // 2
            width = None if width is None else width // 2
        return (batch, height, width, self.filters)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "downsample": self.downsample,
                "preactivation": self.preactivation,
                "spectral_norm": self.spectral_norm,
            }
        )
        return config
