"""Evaluation: FID / IS / KID, PRDC, intra-class FID, FID-infinity, the digits judge, protocols.

The metric functions take classifier outputs (`metrics.py`, `prdc.py`); the `Evaluator` streams
real and generated images through a `Classifier` (TF-GAN's Inception from TF-Hub or a local
directory, or the project's digits CNN) under a named metric protocol (`protocols.py`) and caches
the real statistics; `evaluate_run` and `truncation_sweep_run` score a trained run directory
(`ylg-eval`, `ylg-sample --sweep`); `compare_score_files` puts two score files side by side when
their protocols match (`ylg-eval --compare`).
"""

from ylg_tf.evaluation.classifiers import (
    INCEPTION_HANDLE,
    Classifier,
    inception_classifier,
    resolve_classifier_spec,
    resolve_hub_handle,
    saved_model_classifier,
)
from ylg_tf.evaluation.compare import compare_score_files, compare_scores
from ylg_tf.evaluation.evaluator import (
    Evaluator,
    RealStatistics,
    default_cache_dir,
    load_classifier,
    make_evaluator,
    score_scalars,
    write_score_summaries,
    write_scores,
)
from ylg_tf.evaluation.judge import DigitsJudge
from ylg_tf.evaluation.metrics import (
    activation_moments,
    classifier_score_from_logits,
    fid_infinity,
    frechet_classifier_distance_from_activations,
    frechet_distance_from_moments,
    intra_class_frechet_distance,
    kernel_classifier_distance_and_std_from_activations,
)
from ylg_tf.evaluation.prdc import precision_recall_density_coverage
from ylg_tf.evaluation.protocols import (
    PROTOCOLS,
    Protocol,
    check_same_protocol,
    describe_protocol,
    protocol_record,
    resolve_protocol,
)
from ylg_tf.evaluation.runs import (
    evaluate_run,
    plot_truncation_sweep,
    truncation_sweep,
    truncation_sweep_run,
)

__all__ = [
    "INCEPTION_HANDLE",
    "PROTOCOLS",
    "Classifier",
    "DigitsJudge",
    "Evaluator",
    "Protocol",
    "RealStatistics",
    "activation_moments",
    "check_same_protocol",
    "classifier_score_from_logits",
    "compare_score_files",
    "compare_scores",
    "default_cache_dir",
    "describe_protocol",
    "evaluate_run",
    "fid_infinity",
    "frechet_classifier_distance_from_activations",
    "frechet_distance_from_moments",
    "inception_classifier",
    "intra_class_frechet_distance",
    "kernel_classifier_distance_and_std_from_activations",
    "load_classifier",
    "make_evaluator",
    "plot_truncation_sweep",
    "precision_recall_density_coverage",
    "protocol_record",
    "resolve_classifier_spec",
    "resolve_hub_handle",
    "resolve_protocol",
    "saved_model_classifier",
    "score_scalars",
    "truncation_sweep",
    "truncation_sweep_run",
    "write_score_summaries",
    "write_scores",
]
