"""SAGAN/BigGAN ResNet plans: channels (and D's downsampling) per block, per output resolution.

The 128x128 plans are SAGAN's ImageNet ones (G blocks output 8..128 with 16, 8, 4, 2, 1 x base
channels; D 1, 2, 4, 8, 16, 16 x base); 32x32 follows BigGAN's CIFAR plan (4 x base everywhere,
D stops downsampling at 8x8).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

RESOLUTIONS = (32, 64, 128)

GENERATOR_MULTIPLIERS = {32: (4, 4, 4), 64: (16, 8, 4, 2), 128: (16, 8, 4, 2, 1)}
DISCRIMINATOR_PLANS = {  # (channel multiplier, downsample) per block
    32: ((4, True), (4, True), (4, False), (4, False)),
    64: ((1, True), (2, True), (4, True), (8, True), (16, False)),
    128: ((1, True), (2, True), (4, True), (8, True), (16, True), (16, False)),
}
#: Feature resolution of the attention layer when the config does not say (32 for 128x128
#: ImageNet, as in the papers).
DEFAULT_ATTENTION_RESOLUTION = {32: 16, 64: 32, 128: 32}


def check_resolution(resolution: int) -> int:
    if resolution not in RESOLUTIONS:
        raise ValueError(f"Output resolution must be one of {RESOLUTIONS}, got {resolution!r}.")
    return resolution


def generator_resolutions(resolution: int) -> tuple[int, ...]:
    """Output feature resolution of each generator block: 4x4 doubled up to `resolution`."""
    return tuple(4 * 2 ** (k + 1) for k in range(resolution.bit_length() - 3))


def discriminator_resolutions(resolution: int) -> tuple[int, ...]:
    """Output feature resolution of each discriminator block (32x32: 16, 8, 8, 8)."""
    sizes, size = [], check_resolution(resolution)
    for _, downsample in DISCRIMINATOR_PLANS[resolution]:
        size = size // 2 if downsample else size
        sizes.append(size)
    return tuple(sizes)


def generator_plan(
    resolution: int, base_channels: int, multipliers: Sequence[int] | None = None
) -> list[tuple[int, int]]:
    """(channels, output resolution) of each generator block; the input is 4x4."""
    multipliers = tuple(multipliers or GENERATOR_MULTIPLIERS[check_resolution(resolution)])
    sizes = generator_resolutions(resolution)
    if len(multipliers) != len(sizes):
        raise ValueError(
            f"A {resolution}x{resolution} generator has {len(sizes)} blocks; got channel "
            f"multipliers {multipliers}."
        )
    return [(m * base_channels, size) for m, size in zip(multipliers, sizes, strict=True)]


def discriminator_plan(resolution: int, base_channels: int) -> list[tuple[int, bool, int]]:
    """(channels, downsample, output resolution) of each discriminator block."""
    return [
        (multiplier * base_channels, downsample, size)
        for (multiplier, downsample), size in zip(
            DISCRIMINATOR_PLANS[check_resolution(resolution)],
            discriminator_resolutions(resolution),
            strict=True,
        )
    ]


def attention_resolutions(value: int | Sequence[int] | None, resolution: int, field: str) -> list:
    """An attention-resolution setting as a list: None, 0 or () give the default for `resolution`.

    Entries are checked against the blocks by `place_blocks`; repeated entries are an error,
    since each block gets at most one attention layer.
    """
    if value is None or isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return [value or DEFAULT_ATTENTION_RESOLUTION.get(resolution)]
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ValueError(f"{field} must be an int or a sequence of ints, got {field}={value!r}.")
    values = list(value) or [DEFAULT_ATTENTION_RESOLUTION.get(resolution)]
    if len(set(values)) != len(values):
        raise ValueError(
            f"{field}={value!r} repeats a resolution; give each at most once (one attention "
            "layer after each listed block)."
        )
    return values


def place_blocks(
    sizes: Sequence[int],
    attention: Sequence[int],
    residual: int,
    *,
    has_attention: bool,
    fields: tuple[str, str],
) -> tuple[tuple[int, ...], int | None]:
    """Indices of the blocks that attention layers and SAGAN's residual control follow.

    Each sits after the first block whose output has its feature resolution. The residual
    control (Table 1's "Residual" columns) replaces attention, so it may not follow the same
    block as an attention layer of a network that has attention. Shared by the models and the
    run-config check, so both accept the same placements.

    Args:
      sizes: output feature resolution of each block of the network.
      attention: attention resolutions (`attention_resolutions`).
      residual: feature resolution of the residual control; 0 for none.
      has_attention: whether the network builds its attention layers (the variant may have none).
      fields: names of the attention and residual settings, for the messages.

    Returns:
      `(attention block indices ascending, residual block index or None)`.
    """
    attention_field, residual_field = fields
    accepted = sorted(set(sizes))
    after = []
    for value in attention:
        if value not in sizes:
            raise ValueError(
                f"{attention_field}={value!r} is not a feature resolution of the network; "
                f"accepted: {accepted}."
            )
        after.append(list(sizes).index(value))
    after.sort()
    if isinstance(residual, bool) or not isinstance(residual, numbers.Integral):
        raise ValueError(
            f"{residual_field}={residual!r}: the residual control is one block, given by one "
            f"int; accepted: 0 (none) or one of {accepted}."
        )
    if residual == 0:
        return tuple(after), None
    if residual not in sizes:
        raise ValueError(
            f"{residual_field}={residual!r} is not a feature resolution of the network; "
            f"accepted: 0 (none) or one of {accepted}."
        )
    block = list(sizes).index(residual)
    if has_attention and block in after:
        free = sorted({size for k, size in enumerate(sizes) if k not in after})
        raise ValueError(
            f"{residual_field}={residual!r} puts the residual control where {attention_field} "
            f"puts attention (after the {residual}x{residual} block); it stands in for "
            f"attention (SAGAN Table 1), so use 0 (none) or one of {free}, or a variant without "
            "attention ('no_attention')."
        )
    return tuple(after), block
