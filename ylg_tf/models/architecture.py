"""SAGAN/BigGAN ResNet plans: channels (and D's downsampling) per block, per output resolution.

The 128x128 plans are SAGAN's ImageNet ones (G blocks output 8..128 with 16, 8, 4, 2, 1 x base
channels; D 1, 2, 4, 8, 16, 16 x base); 32x32 follows BigGAN's CIFAR plan (4 x base everywhere,
D stops downsampling at 8x8).
"""

from __future__ import annotations

from collections.abc import Sequence

RESOLUTIONS = (32, 64, 128)

GENERATOR_MULTIPLIERS = {32: (4, 4, 4), 64: (16, 8, 4, 2), 128: (16, 8, 4, 2, 1)}
DISCRIMINATOR_PLANS = {  # (channel multiplier, downsample) per block
    32: ((4, True), (4, True), (4, False), (4, False)),
    64: ((1, True), (2, True), (4, True), (8, True), (16, False)),
    128: ((1, True), (2, True), (4, True), (8, True), (16, True), (16, False)),
}
#: Feature resolution of the attention layer when the config does not say (REFERENCE.md §1: 32
#: for 128x128 ImageNet).
DEFAULT_ATTENTION_RESOLUTION = {32: 16, 64: 32, 128: 32}


def check_resolution(resolution: int) -> int:
    if resolution not in RESOLUTIONS:
        raise ValueError(f"Output resolution must be one of {RESOLUTIONS}, got {resolution!r}.")
    return resolution


def generator_plan(
    resolution: int, base_channels: int, multipliers: Sequence[int] | None = None
) -> list[tuple[int, int]]:
    """(channels, output resolution) of each generator block; the input is 4x4."""
    multipliers = tuple(multipliers or GENERATOR_MULTIPLIERS[check_resolution(resolution)])
    blocks = resolution.bit_length() - 3  # 4 -> resolution by doubling
    if len(multipliers) != blocks:
        raise ValueError(
            f"A {resolution}x{resolution} generator has {blocks} blocks; got channel "
            f"multipliers {multipliers}."
        )
    return [(m * base_channels, 4 * 2 ** (k + 1)) for k, m in enumerate(multipliers)]


def discriminator_plan(resolution: int, base_channels: int) -> list[tuple[int, bool, int]]:
    """(channels, downsample, output resolution) of each discriminator block."""
    plan, size = [], check_resolution(resolution)
    for multiplier, downsample in DISCRIMINATOR_PLANS[resolution]:
        size = size // 2 if downsample else size
        plan.append((multiplier * base_channels, downsample, size))
    return plan


def attention_block(sizes: Sequence[int], attention_resolution: int | None, who: str) -> int:
    """Index of the first block with output size `attention_resolution` (attention follows it)."""
    if attention_resolution not in sizes:
        raise ValueError(
            f"{who} attention resolution {attention_resolution!r} is not one of its feature "
            f"resolutions {sorted(set(sizes))}."
        )
    return list(sizes).index(attention_resolution)
