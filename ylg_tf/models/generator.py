"""SAGAN's class-conditional ResNet generator with attention after one or several blocks."""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import ops

from ylg_tf.layers import ResidualBlockUp, sn_conv, sn_dense
from ylg_tf.models.architecture import (
    attention_resolutions,
    generator_plan,
    place_blocks,
)
from ylg_tf.models.variants import attention_layer, get_variant


@keras.saving.register_keras_serializable(package="ylg_tf")
class Generator(keras.Model):
    """z and a class label -> image in [-1, 1] (SAGAN/BigGAN style, spectral norm everywhere).

    z -> SN linear -> 4x4 -> residual up-blocks with conditional batch norm -> [an attention
    layer after the block at each of `attention_resolution`] -> BN, ReLU, SN 3x3 conv -> tanh.
    SAGAN's ablations (Table 1, Figures 3/4) are arguments: `residual_resolution` adds a
    non-upsampling residual block of the same width after the block at that resolution (the
    "Residual" control), and `spectral_norm=False` drops spectral norm from every layer of G
    (the "SN on D only" baseline).
    For a variant that `needs_latents` (GANformer), an SN linear layer also maps z to
    `[num_latents, latent_dim]` latents, which every attention layer receives.

    Args:
      resolution: output size, 32, 64 or 128.
      num_classes: number of class labels (1 for unconditional data).
      z_dim: latent size (128 in SAGAN).
      base_channels: width unit; block channels are multiples of it (`architecture.py`).
      channel_multipliers: override the per-block multipliers.
      variant: registered attention variant (`ylg_tf.models.VARIANTS`).
      attention_resolution: feature resolution after which the attention layer sits, or a
        sequence of them (one layer after each; e.g. `(16, 32)`). None: the architecture's
        default for `resolution`.
      residual_resolution: feature resolution after which the residual control sits; 0 for
        none. It may not follow the block an attention layer follows.
      spectral_norm: spectral-normalize every convolution and dense layer (SAGAN); False for
        plain ones.
      bn_momentum: batch-norm moving-average momentum.
      synchronized_bn: synchronize batch statistics across replicas.

    Call arguments:
      inputs: `(z [B, z_dim], labels [B] int)`.
      training: batch statistics and spectral-norm updates in training mode.
      return_attention_scores: also return the attention probabilities, as
        `(images, probs)` with `probs` a tuple of one `[B, heads, queries, keys]` map per
        attention layer, in block order (lowest resolution first); `()` without attention.
        Without it the layers are not asked for probabilities, so none are materialized.

    Attributes:
      attention_layers: the attention layers, in block order (empty without attention).
      attention: the first of them, or None (kept so single-layer callers and checkpoint paths
        stay as they were).
      latent_mapping: the SN z -> latents layer, or None when the variant needs no latents.
      residual_block: the residual control, or None.
    """

    def __init__(
        self,
        resolution: int = 32,
        num_classes: int = 10,
        z_dim: int = 128,
        base_channels: int = 64,
        channel_multipliers: Sequence[int] | None = None,
        variant: str = "ylg",
        attention_resolution: int | Sequence[int] | None = None,
        residual_resolution: int = 0,
        spectral_norm: bool = True,
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
        self.bn_momentum = bn_momentum
        self.synchronized_bn = synchronized_bn
        self.residual_resolution = residual_resolution
        self.spectral_norm = spectral_norm  # the blocks reject a non-bool

        plan = generator_plan(resolution, base_channels, channel_multipliers)
        spec = get_variant(variant)
        self._first_channels = plan[0][0]
        sizes = [size for _, size in plan]
        after, self._residual_after = place_blocks(
            sizes,
            attention_resolutions(
                attention_resolution, resolution, "Generator attention_resolution"
            ),
            residual_resolution,
            has_attention=spec.has_attention,
            fields=("Generator attention_resolution", "Generator residual_resolution"),
        )
        # An int when there is one layer, as before; an ascending list (JSON-friendly) for several.
        self.attention_resolution = (
            sizes[after[0]] if len(after) == 1 else [sizes[k] for k in after]
        )
        sn = dict(spectral_norm=spectral_norm)
        self.linear = sn_dense(16 * self._first_channels, name="linear", **sn)
        block_args = dict(momentum=bn_momentum, synchronized=synchronized_bn, **sn)
        self.blocks = [
            ResidualBlockUp(channels, num_classes, name=f"block_{k}", **block_args)
            for k, (channels, _) in enumerate(plan)
        ]
        self.residual_block = None
        if self._residual_after is not None:
            self.residual_block = ResidualBlockUp(
                plan[self._residual_after][0],
                num_classes,
                upsample=False,
                name="residual",
                **block_args,
            )
        names = ["attention"] if len(after) == 1 else [f"attention_{sizes[k]}" for k in after]
        layers = [
            attention_layer(spec, plan[k][0], name, spectral_norm)
            for k, name in zip(after, names, strict=True)
        ]
        self.attention_layers = [layer for layer in layers if layer is not None]
        self.attention = self.attention_layers[0] if self.attention_layers else None
        self._attention_blocks = tuple(after) if self.attention_layers else ()
        self._latent_shape = (spec.num_latents, spec.latent_dim) if spec.needs_latents else None
        self.latent_mapping = None
        if spec.needs_latents:
            self.latent_mapping = sn_dense(
                spec.num_latents * spec.latent_dim, name="latent_mapping", **sn
            )
        self.output_norm = keras.layers.BatchNormalization(
            momentum=bn_momentum, synchronized=synchronized_bn, name="output_norm"
        )
        self.output_conv = sn_conv(3, 3, name="output_conv", **sn)

    def call(self, inputs, training=None, return_attention_scores: bool = False):
        z, labels = inputs
        h = ops.reshape(self.linear(z, training=training), (-1, 4, 4, self._first_channels))
        latents = ()
        if self.latent_mapping is not None:
            latents = (
                ops.reshape(self.latent_mapping(z, training=training), (-1, *self._latent_shape)),
            )
        probs = []
        for k, block in enumerate(self.blocks):
            h = block(h, labels, training=training)
            if k == self._residual_after:
                h = self.residual_block(h, labels, training=training)
            if k in self._attention_blocks:
                layer = self.attention_layers[self._attention_blocks.index(k)]
                if return_attention_scores:
                    h, layer_probs = layer(
                        h, *latents, training=training, return_attention_scores=True
                    )
                    probs.append(layer_probs)
                else:
                    h = layer(h, *latents, training=training)
        h = ops.relu(self.output_norm(h, training=training))
        images = ops.cast(ops.tanh(self.output_conv(h, training=training)), "float32")
        return (images, tuple(probs)) if return_attention_scores else images

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
            residual_resolution=self.residual_resolution,
            spectral_norm=self.spectral_norm,
            bn_momentum=self.bn_momentum,
            synchronized_bn=self.synchronized_bn,
        )
        return config
