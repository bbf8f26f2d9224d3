"""The variant registry: a model variant is an attention layer spec, never new model code.

`ATTENTION_BUILDERS` maps a layer kind to a function building the Keras layer, so a new family
slots in by registering a builder and its variants (GANformer's bipartite attention is one). A
builder is called as `builder(variant, channels, name, spectral_norm)`; `spectral_norm=False`
asks for plain projections (SAGAN's "SN on D only" baseline, in the generator).

The attention-layer call contract: a built layer is called as `layer(x, training=...)` and
returns `y`; only when the model's caller asks for probabilities is it called with
`return_attention_scores=True` and returns `(y, probs)` (so a layer may skip materializing
probabilities otherwise; G and D then return a tuple of the layers' maps). A variant with
`num_latents > 0` (`needs_latents`) gets latents derived from z as a second positional argument,
`layer(x, latents, training=...)`, with `latents` of shape
`[batch, num_latents, latent_dim]`; the generator builds the z -> latents map (an SN linear layer
shared by all its attention layers) only for such variants. The discriminator has no z, so these
variants must set `in_discriminator=False`; any variant may, to keep D free of attention.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import keras

from ylg_tf.layers import BipartiteAttention, SelfAttention2D, SparseAttention2D


@dataclasses.dataclass(frozen=True)
class AttentionVariant:
    """How the attention layers of G and D are built.

    Attributes:
      name: registry key.
      kind: `"none"`, `"self"` (SAGAN's `SelfAttention2D`), `"sparse"` (`SparseAttention2D`) or
        `"bipartite"` (GANformer's `BipartiteAttention`); other kinds come from
        `register_attention_builder`.
      layout, heads, curve: `SparseAttention2D`'s head layout, head count and ESA curve;
        `heads` is also `BipartiteAttention`'s head count (None: 1).
      mixed_widths: split query/key channels into 4 narrow heads of 1/16 and 4 wide heads of
        3/16 of `C // 8` (supplementary §5.4: widths 2 and 6 at `C // 8 = 32`).
      description: one line for listings.
      mode: `BipartiteAttention`'s `"simplex"` or `"duplex"`.
      num_latents: latents the layer receives from z (0: the layer takes x alone).
      latent_dim: size of each latent when `num_latents > 0`.
      in_discriminator: whether D gets the attention layer too (False: D has none).
    """

    name: str
    kind: str
    layout: str = "dense"
    heads: int | None = None
    curve: str = "manhattan"
    mixed_widths: bool = False
    description: str = ""
    mode: str = "simplex"
    num_latents: int = 0
    latent_dim: int = 32
    in_discriminator: bool = True

    @property
    def has_attention(self) -> bool:
        """Whether the variant has attention layers at all (in D only if `in_discriminator`)."""
        return self.kind != "none"

    @property
    def needs_latents(self) -> bool:
        """Whether the layer is called with latents derived from z (G only)."""
        return self.num_latents > 0


def _sparse(
    variant: AttentionVariant, channels: int, name: str, spectral_norm: bool
) -> keras.layers.Layer:
    key_widths = None
    if variant.mixed_widths:
        total = channels // 8
        if total % 16:
            raise ValueError(
                f"Variant {variant.name!r} splits channels // 8 into sixteenths; the attention "
                f"input has {channels} channels, which is not a multiple of 128."
            )
        key_widths = [total // 16] * 4 + [3 * total // 16] * 4
    return SparseAttention2D(
        layout=variant.layout,
        heads=variant.heads,
        curve=variant.curve,
        key_widths=key_widths,
        spectral_norm=spectral_norm,
        name=name,
    )


def _bipartite(
    variant: AttentionVariant, channels: int, name: str, spectral_norm: bool
) -> keras.layers.Layer:
    if not variant.needs_latents:
        raise ValueError(
            f"Variant {variant.name!r} of kind 'bipartite' needs latents; got "
            f"num_latents={variant.num_latents!r}, expected an integer >= 1."
        )
    return BipartiteAttention(
        mode=variant.mode,
        num_latents=variant.num_latents,
        heads=variant.heads or 1,
        spectral_norm=spectral_norm,
        name=name,
    )


Builder = Callable[[AttentionVariant, int, str, bool], keras.layers.Layer]

ATTENTION_BUILDERS: dict[str, Builder] = {
    "self": lambda variant, channels, name, spectral_norm: SelfAttention2D(
        spectral_norm=spectral_norm, name=name
    ),
    "sparse": _sparse,
    "bipartite": _bipartite,
}

VARIANTS: dict[str, AttentionVariant] = {}


def register_variant(variant: AttentionVariant) -> AttentionVariant:
    """Adds a variant to the registry (its kind must have a builder, or be `"none"`)."""
    if variant.kind != "none" and variant.kind not in ATTENTION_BUILDERS:
        raise ValueError(
            f"Variant {variant.name!r} has kind {variant.kind!r}; known kinds: "
            f"{['none', *ATTENTION_BUILDERS]}."
        )
    if variant.needs_latents and variant.in_discriminator:
        raise ValueError(
            f"Variant {variant.name!r} has num_latents={variant.num_latents}: its layers take "
            "latents derived from z, which the discriminator does not have; set "
            "in_discriminator=False."
        )
    VARIANTS[variant.name] = variant
    return variant


def register_attention_builder(kind: str, builder: Builder) -> None:
    """Registers how to build the layers of a new attention kind."""
    ATTENTION_BUILDERS[kind] = builder


def get_variant(name: str) -> AttentionVariant:
    """The registered variant `name`, or a ValueError listing the registered ones."""
    if name not in VARIANTS:
        raise ValueError(f"Unknown model variant {name!r}; registered: {sorted(VARIANTS)}.")
    return VARIANTS[name]


def attention_layer(
    variant: AttentionVariant, channels: int, name: str, spectral_norm: bool = True
) -> keras.layers.Layer | None:
    """The attention layer of `variant` for an input of `channels` channels (None for "none")."""
    if not variant.has_attention:
        return None
    return ATTENTION_BUILDERS[variant.kind](variant, channels, name, spectral_norm)


for _variant in (
    AttentionVariant("no_attention", "none", description="SAGAN's ResNet without attention"),
    AttentionVariant("sagan", "self", description="SAGAN: one dense head"),
    AttentionVariant("sagan_8head", "sparse", "dense", heads=8, description="8 dense heads"),
    AttentionVariant("ylg", "sparse", "ylg", description="YLG: RTL/LTR heads, ESA order"),
    AttentionVariant(
        "ylg_strided", "sparse", "ylg_strided", description="Full-Information strided heads"
    ),
    AttentionVariant(
        "ylg_no_esa", "sparse", "ylg", curve="row_major", description="YLG, row-major order"
    ),
    AttentionVariant(
        "ylg_hilbert", "sparse", "ylg", curve="hilbert", description="YLG, Hilbert order"
    ),
    AttentionVariant(
        "dense_sparse", "sparse", "dense_sparse", description="4 RTL/LTR heads + 4 dense heads"
    ),
    AttentionVariant(
        "mixed_resolution",
        "sparse",
        "dense",
        heads=8,
        mixed_widths=True,
        description="8 dense heads, 4 narrow and 4 wide",
    ),
    # GANformer: k = 16 latents from z; no attention in D (the reproducibility study found duplex
    # unstable with attention in D; docs/background.md).
    AttentionVariant(
        "ganformer_simplex",
        "bipartite",
        mode="simplex",
        num_latents=16,
        in_discriminator=False,
        description="GANformer simplex: 16 latents -> image in G, no attention in D",
    ),
    AttentionVariant(
        "ganformer_duplex",
        "bipartite",
        mode="duplex",
        num_latents=16,
        in_discriminator=False,
        description="GANformer duplex: latent keys as image centroids, then latents -> image",
    ),
):
    register_variant(_variant)
