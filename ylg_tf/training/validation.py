"""The whole run config, checked once by what trains it (`GANTrainer`, the JAX engine): the run's
own fields with the model zoo's rules (`ylg_tf.runs.validation`) and `config.eval` with the
evaluation package's (`ylg_tf.evaluation.settings`), which `ylg_tf.runs` does not import."""

from __future__ import annotations

import ml_collections

from ylg_tf.evaluation.settings import eval_settings
from ylg_tf.runs import validation as run_validation

__all__ = ["validate"]


def validate(config: ml_collections.ConfigDict) -> None:
    """Rejects a config that cannot train or be scored, naming the bad field and what it accepts."""
    run_validation.validate(config)
    eval_settings(config)
