"""Named metric protocols: what a score was measured with, so that only like scores are compared.

FID moves with the feature network, the resize in front of it, the reference images and the sample
counts (one SAGAN checkpoint scores FID 14.0 in one pipeline and 10.2 in another). A protocol
names the first two; every score file records it in full together with the last two
(`protocol_record`), and comparisons refuse scores whose records differ (`check_same_protocol`).

- `tfgan` (the reference for Inception): TF-GAN's Inception network, images in [-1, 1] resized
  bilinearly to 299x299 without antialiasing, as TF-GAN computes it and as the YLG and SAGAN
  papers reported their scores.
- `clean`: images rounded to 8 bits first (as saved images are) and resized bicubically with
  antialiasing, following clean-fid's argument (Parmar et al. 2022) that an aliasing resize adds
  artefacts of its own; for Inception or the digits classifier.
- `digits`: the project's digits classifier (trained on the embedded digits), its 32x32 input
  resized bilinearly without antialiasing (the identity for the 32x32 main job).

`"auto"` picks `digits` for the digits classifier and `tfgan` for Inception.
"""

from __future__ import annotations

import dataclasses

__all__ = [
    "CUSTOM_PROTOCOL",
    "PROTOCOLS",
    "PROTOCOL_CHOICES",
    "Protocol",
    "check_same_protocol",
    "describe_protocol",
    "protocol_differences",
    "protocol_record",
    "resolve_protocol",
]


@dataclasses.dataclass(frozen=True)
class Protocol:
    """How images reach the feature network.

    Attributes:
      name: the protocol's name, written with every score.
      resize_method: `tf.image.resize` method to the network's input size.
      antialias: whether the resize low-pass filters when it shrinks.
      quantize: whether images are rounded to 8 bits (256 levels in [-1, 1]) before the resize.
      backbones: the classifier kinds (`"inception"`, `"digits"`) it applies to.
    """

    name: str
    resize_method: str
    antialias: bool
    quantize: bool
    backbones: tuple[str, ...]


PROTOCOLS = {
    "tfgan": Protocol("tfgan", "bilinear", False, False, ("inception",)),
    "clean": Protocol("clean", "bicubic", True, True, ("inception", "digits")),
    "digits": Protocol("digits", "bilinear", False, False, ("digits",)),
}
PROTOCOL_CHOICES = ("auto", *PROTOCOLS)
#: The protocol of a classifier built without one (a custom network): bilinear, as TF-GAN.
CUSTOM_PROTOCOL = Protocol("custom", "bilinear", False, False, ())


def resolve_protocol(name: str, classifier_spec: str) -> Protocol:
    """The protocol `name` (or `"auto"`) for a resolved classifier spec, or a ValueError."""
    kind = "digits" if classifier_spec == "digits" else "inception"
    if name == "auto":
        return PROTOCOLS["digits" if kind == "digits" else "tfgan"]
    if name not in PROTOCOLS:
        raise ValueError(f"Unknown metric protocol {name!r}; expected one of {PROTOCOL_CHOICES}.")
    protocol = PROTOCOLS[name]
    if kind not in protocol.backbones:
        fitting = [p.name for p in PROTOCOLS.values() if kind in p.backbones]
        raise ValueError(
            f"Metric protocol {name!r} is for {' or '.join(protocol.backbones)} features, not "
            f"the classifier {classifier_spec!r}; with it use 'auto' or one of {fitting}."
        )
    return protocol


def protocol_record(
    classifier,
    *,
    dataset: str,
    split: str,
    resolution: int,
    num_real: int,
    num_generated: int,
    features: int,
) -> dict:
    """The protocol of one score, in full: what the score file and TensorBoard record.

    Args:
      classifier: the `Classifier` (its `protocol`, `name`, `weights` and `input_size`).
      dataset, split, resolution: the reference images.
      num_real, num_generated: the sample counts.
      features: the width of the activations (2048 for Inception's `pool_3`).
    """
    protocol = classifier.protocol
    return {
        "name": protocol.name,
        "backbone": {
            "name": classifier.name,
            "weights": classifier.weights,
            "features": int(features),
        },
        "resize": {
            "method": protocol.resize_method,
            "antialias": protocol.antialias,
            "quantize_8bit": protocol.quantize,
            "size": classifier.input_size,
        },
        "reference": {
            "dataset": dataset,
            "split": split,
            "resolution": resolution,
            "count": int(num_real),
        },
        "generated": int(num_generated),
    }


def describe_protocol(record: dict | None) -> str:
    """One line for a report: the protocol's name, backbone, resize and sample counts."""
    if record is None:
        return "protocol not recorded (scores written before protocols were)"
    resize = record["resize"]
    reference = record["reference"]
    return (
        f"protocol `{record['name']}`: {record['backbone']['name']} features "
        f"({record['backbone']['weights']}), {resize['method']} resize to {resize['size']} "
        f"{'with' if resize['antialias'] else 'without'} antialiasing"
        f"{', 8-bit rounding first' if resize['quantize_8bit'] else ''}; reference "
        f"{reference['dataset']} {reference['split']} ({reference['count']} images), "
        f"{record['generated']} generated"
    )


def protocol_differences(first: dict | None, second: dict | None, path: str = "") -> list[str]:
    """The fields in which two protocol records differ, as `"field: A != B"` lines."""
    if isinstance(first, dict) and isinstance(second, dict):
        return [
            line
            for key in sorted(set(first) | set(second))
            for line in protocol_differences(
                first.get(key), second.get(key), f"{path}.{key}" if path else key
            )
        ]
    return [] if first == second else [f"{path or 'protocol'}: {first!r} != {second!r}"]


def check_same_protocol(scores: dict[str, dict]) -> dict | None:
    """The protocol record shared by every score dict of `scores` (by a name for messages).

    Raises:
      ValueError: naming the first two scores whose protocols differ and the differing fields
        (a score without a record differs from one with a record).
    """
    named = list(scores.items())
    first_name, first = named[0]
    for name, score in named[1:]:
        differences = protocol_differences(first.get("protocol"), score.get("protocol"))
        if differences:
            raise ValueError(
                f"Refusing to compare scores measured under different protocols: {first_name} "
                f"and {name} differ in " + "; ".join(differences) + ". Re-score one of them "
                "with the other's protocol (ylg-eval --protocol, --num_samples, --classifier)."
            )
    return first.get("protocol")
