"""Moved to `ylg_tf.runs.loading`; kept so that earlier imports keep working."""

from ylg_tf.runs.loading import Run, load_run, model_weights

__all__ = ["Run", "load_run", "model_weights"]
