"""Class-conditional batch normalization, the generator's way of seeing the class label."""

from __future__ import annotations

import keras
from keras import ops

from ylg_tf.layers._common import check_batch_norm_args, check_positive_int


@keras.saving.register_keras_serializable(package="ylg_tf")
class ConditionalBatchNorm(keras.layers.Layer):
    """Batch normalization whose gain and bias are looked up per class.

    The features are normalized by a parameter-free `keras.layers.BatchNormalization`, then
    scaled by `1 + gain[label]` and shifted by `bias[label]`. Both embeddings start at zero, so
    a fresh layer is plain batch normalization and the class information is learned as a
    departure from it (as in SAGAN and BigGAN). The defaults (`momentum=0.999`,
    `epsilon=1e-5`) are those of the published SAGAN code.

    Args:
        num_classes: number of classes, i.e. rows of the gain and bias tables.
        momentum: momentum of the moving mean and variance used at inference.
        epsilon: added to the variance before the square root.
        synchronized: compute batch statistics over the global batch of all replicas of a
            `tf.distribute` strategy (Keras's synchronized batch norm, TensorFlow backend only),
            so that statistics do not depend on the per-replica batch size.
        **kwargs: base layer arguments (`name`, `dtype`, `trainable`).

    Call arguments:
        x: `[batch, ..., channels]` features (normally NHWC).
        labels: integer class ids `[batch]`.
        training: use batch statistics (and update the moving ones) when True.

    Returns:
        A tensor shaped like `x`.

    Example:
    ```python
    cbn = ylg_tf.layers.ConditionalBatchNorm(num_classes=10)
    y = cbn(np.ones((4, 8, 8, 16), "float32"), np.array([0, 1, 2, 3]), training=True)
    ```

    References:
        - [de Vries et al., Modulating early visual processing by language, 2017](https://arxiv.org/abs/1707.00683)
        - [Zhang et al., Self-Attention GANs, 2018](https://arxiv.org/abs/1805.08318)
        - [Brock et al., Large Scale GAN Training (BigGAN), 2018](https://arxiv.org/abs/1809.11096)
    """

    def __init__(
        self,
        num_classes: int,
        momentum: float = 0.999,
        epsilon: float = 1e-5,
        synchronized: bool = False,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        check_batch_norm_args(momentum, epsilon, synchronized)
        self.num_classes = check_positive_int(num_classes, "num_classes")
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.synchronized = synchronized

    def build(self, x_shape: tuple, labels_shape: tuple) -> None:
        if len(x_shape) < 2 or x_shape[-1] is None:
            raise ValueError(
                f"{type(self).__name__} needs inputs [batch, ..., channels] with known channels, "
                f"got x shape {tuple(x_shape)}."
            )
        if len(labels_shape) != 1:
            raise ValueError(
                f"{type(self).__name__} expects integer labels of shape [batch], got labels "
                f"shape {tuple(labels_shape)}."
            )
        channels = x_shape[-1]
        self.batch_norm = keras.layers.BatchNormalization(
            momentum=self.momentum,
            epsilon=self.epsilon,
            center=False,
            scale=False,
            synchronized=self.synchronized,
            name="batch_norm",
            dtype=self.dtype_policy,
        )
        self.gain = keras.layers.Embedding(
            self.num_classes,
            channels,
            embeddings_initializer="zeros",
            name="gain",
            dtype=self.dtype_policy,
        )
        self.bias = keras.layers.Embedding(
            self.num_classes,
            channels,
            embeddings_initializer="zeros",
            name="bias",
            dtype=self.dtype_policy,
        )
        self.batch_norm.build(x_shape)
        self.gain.build(labels_shape)
        self.bias.build(labels_shape)
        self.built = True

    def call(self, x, labels, training=None):
        normalized = self.batch_norm(x, training=training)
        gain = self.gain(labels)
        bias = self.bias(labels)
        # [batch, channels] -> [batch, 1, ..., 1, channels] to broadcast over spatial axes.
        for _ in range(len(x.shape) - 2):
            gain = ops.expand_dims(gain, 1)
            bias = ops.expand_dims(bias, 1)
        return normalized * (1.0 + gain) + bias

    def compute_output_shape(self, x_shape: tuple, labels_shape: tuple) -> tuple:
        return tuple(x_shape)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            {
                "num_classes": self.num_classes,
                "momentum": self.momentum,
                "epsilon": self.epsilon,
                "synchronized": self.synchronized,
            }
        )
        return config
