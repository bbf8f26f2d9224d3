"""The generator's (optionally upsampling) residual block (SAGAN / BigGAN)."""

from __future__ import annotations

import keras
from keras import ops

from ylg_tf.layers._common import (
    check_batch_norm_args,
    check_bool,
    check_image_shape,
    check_positive_int,
    upsample_2x,
)
from ylg_tf.layers.conditional_batch_norm import ConditionalBatchNorm
from ylg_tf.layers.spectral import sn_conv


@keras.saving.register_keras_serializable(package="ylg_tf")
class ResidualBlockUp(keras.layers.Layer):
    """Class-conditional residual block that doubles the resolution (or keeps it).

    Main path: conditional BN -> ReLU -> [2x nearest upsample] -> SN conv3x3 -> conditional BN
    -> ReLU -> SN conv3x3. Shortcut: 2x nearest upsample -> SN conv1x1 (the generator's blocks
    always upsample, so their shortcut always has a projection). With `upsample=False` (SAGAN
    Table 1's "residual" control, which stands where an attention layer would) the shortcut is
    the identity unless the channel count changes. The label enters only through the
    batch-norm gains and biases, as in SAGAN and BigGAN.

    Args:
        filters: output channels.
        num_classes: number of classes of the conditional batch norms.
        momentum: momentum of the batch norms' moving statistics.
        epsilon: epsilon of the batch norms.
        synchronized: batch statistics over all replicas (see `ConditionalBatchNorm`).
        upsample: double height and width (nearest neighbour).
        spectral_norm: spectral-normalize the convolutions (False: SAGAN's "SN on D only"
            baseline for the generator).
        **kwargs: base layer arguments (`name`, `dtype`, `trainable`).

    Call arguments:
        x: `[batch, height, width, channels]`.
        labels: integer class ids `[batch]`.
        training: batch statistics and spectral-norm updates when True.

    Returns:
        `[batch, 2 * height, 2 * width, filters]` if `upsample`, else
        `[batch, height, width, filters]`.

    Example:
    ```python
    block = ylg_tf.layers.ResidualBlockUp(filters=64, num_classes=10)
    y = block(np.ones((2, 4, 4, 128), "float32"), np.array([3, 7]))  # (2, 8, 8, 64)
    ```

    References:
        - [Zhang et al., Self-Attention GANs, 2018](https://arxiv.org/abs/1805.08318)
        - [Brock et al., Large Scale GAN Training (BigGAN), 2018](https://arxiv.org/abs/1809.11096)
        - [Miyato & Koyama, cGANs with Projection Discriminator, 2018](https://arxiv.org/abs/1802.05637)
    """

    def __init__(
        self,
        filters: int,
        num_classes: int,
        momentum: float = 0.999,
        epsilon: float = 1e-5,
        synchronized: bool = False,
        upsample: bool = True,
        spectral_norm: bool = True,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.filters = check_positive_int(filters, "filters")
        self.num_classes = check_positive_int(num_classes, "num_classes")
        check_batch_norm_args(momentum, epsilon, synchronized)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.synchronized = synchronized
        self.upsample = check_bool(upsample, "upsample")
        self.spectral_norm = check_bool(spectral_norm, "spectral_norm")

    def build(self, x_shape: tuple, labels_shape: tuple) -> None:
        _, _, channels = check_image_shape(x_shape, type(self).__name__)
        out_shape = tuple(self.compute_output_shape(x_shape, labels_shape)[:3])
        policy, sn = self.dtype_policy, self.spectral_norm
        bn_args = (self.num_classes, self.momentum, self.epsilon, self.synchronized)
        self.norm_1 = ConditionalBatchNorm(*bn_args, name="norm_1", dtype=policy)
        self.conv_1 = sn_conv(self.filters, 3, "conv_1", dtype=policy, spectral_norm=sn)
        self.norm_2 = ConditionalBatchNorm(*bn_args, name="norm_2", dtype=policy)
        self.conv_2 = sn_conv(self.filters, 3, "conv_2", dtype=policy, spectral_norm=sn)
        # Layers are created before any is built: unseeded initializers draw their seeds in
        # that order, so the order keeps the weights of a given global seed as they were.
        self._learnable_shortcut = self.upsample or channels != self.filters
        if self._learnable_shortcut:
            self.shortcut_conv = sn_conv(
                self.filters, 1, "shortcut_conv", dtype=policy, spectral_norm=sn
            )
        self.norm_1.build(x_shape, labels_shape)
        self.conv_1.build(out_shape + (channels,))
        self.norm_2.build(out_shape + (self.filters,), labels_shape)
        self.conv_2.build(out_shape + (self.filters,))
        if self._learnable_shortcut:
            self.shortcut_conv.build(out_shape + (channels,))
        self.built = True

    def call(self, x, labels, training=None):
        resample = upsample_2x if self.upsample else lambda t: t
        h = ops.relu(self.norm_1(x, labels, training=training))
        h = self.conv_1(resample(h), training=training)
        h = ops.relu(self.norm_2(h, labels, training=training))
        h = self.conv_2(h, training=training)
        shortcut = resample(x)
        if self._learnable_shortcut:
            shortcut = self.shortcut_conv(shortcut, training=training)
        return h + shortcut

    def compute_output_shape(self, x_shape: tuple, labels_shape: tuple) -> tuple:
        batch, height, width, _ = x_shape
        scale = 2 if self.upsample else 1
        return (
            batch,
            None if height is None else scale * height,
            None if width is None else scale * width,
            self.filters,
        )

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "num_classes": self.num_classes,
                "momentum": self.momentum,
                "epsilon": self.epsilon,
                "synchronized": self.synchronized,
                "upsample": self.upsample,
                "spectral_norm": self.spectral_norm,
            }
        )
        return config
