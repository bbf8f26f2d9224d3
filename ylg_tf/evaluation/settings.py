"""`config.eval`: its values over the defaults, checked once with messages naming the field."""

from __future__ import annotations

import ml_collections

from ylg_tf.evaluation.classifiers import CLASSIFIER_SPECS, resolve_classifier_spec
from ylg_tf.evaluation.protocols import resolve_protocol
from ylg_tf.runs.config import default_config

__all__ = ["eval_settings", "validate_eval_settings"]


def eval_settings(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """`config.eval` over the defaults (a run from before a field existed gets its default),
    validated against `config.data.name`."""
    settings = default_config().eval
    if "eval" in config:
        settings.update(config.eval)
    validate_eval_settings(settings, config.data.name)
    return settings


def validate_eval_settings(settings: ml_collections.ConfigDict, dataset: str) -> None:
    """Rejects `config.eval` values the evaluator cannot use, naming the field."""
    for field, least in (
        ("every", 0),
        ("num_samples", 2),
        ("batch_size", 1),
        ("kid_block_size", 2),
        ("prdc_nearest_k", 0),
    ):
        value = settings.get(field, least)
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ValueError(f"config.eval.{field}={value!r}; expected an integer >= {least}.")
    for field in ("intra_fid", "fid_infinity", "judge"):
        value = settings.get(field, False)
        if not isinstance(value, bool):
            raise ValueError(f"config.eval.{field}={value!r}; expected True or False.")
    try:
        spec = resolve_classifier_spec(settings.classifier, dataset)
    except (ValueError, AttributeError) as error:
        raise ValueError(
            f"config.eval.classifier={settings.classifier!r}; expected {CLASSIFIER_SPECS}."
        ) from error
    try:
        resolve_protocol(settings.get("protocol", "auto"), spec)
    except ValueError as error:
        raise ValueError(f"config.eval.protocol: {error}") from error
