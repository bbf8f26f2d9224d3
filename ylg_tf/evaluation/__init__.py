"""Evaluation: TF-GAN's FID / IS / KID, classifier backends, the streaming evaluator, run scores.

The metric functions take classifier outputs (`metrics.py`); the `Evaluator` streams real and
generated images through a `Classifier` (TF-GAN's Inception from TF-Hub or a local directory, or
the project's digits CNN) and caches the real statistics; `evaluate_run` and
`truncation_sweep_run` score a trained run directory (`ylg-eval`, `ylg-sample --sweep`).
"""

from ylg_tf.evaluation.classifiers import (
    INCEPTION_HANDLE,
    Classifier,
    inception_classifier,
    resolve_classifier_spec,
    resolve_hub_handle,
    saved_model_classifier,
)
from ylg_tf.evaluation.evaluator import (
    Evaluator,
    RealStatistics,
    default_cache_dir,
    load_classifier,
    make_evaluator,
    write_scores,
)
from ylg_tf.evaluation.metrics import (
    activation_moments,
    classifier_score_from_logits,
    frechet_classifier_distance_from_activations,
    frechet_distance_from_moments,
    kernel_classifier_distance_and_std_from_activations,
)
from ylg_tf.evaluation.runs import (
    evaluate_run,
    plot_truncation_sweep,
    truncation_sweep,
    truncation_sweep_run,
)

__all__ = [
    "INCEPTION_HANDLE",
    "Classifier",
    "Evaluator",
    "RealStatistics",
    "activation_moments",
    "classifier_score_from_logits",
    "default_cache_dir",
    "evaluate_run",
    "frechet_classifier_distance_from_activations",
    "inception_classifier",
    "frechet_distance_from_moments",
    "kernel_classifier_distance_and_std_from_activations",
    "load_classifier",
    "make_evaluator",
    "plot_truncation_sweep",
    "resolve_classifier_spec",
    "resolve_hub_handle",
    "saved_model_classifier",
    "truncation_sweep",
    "truncation_sweep_run",
    "write_scores",
]
