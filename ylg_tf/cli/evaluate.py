"""`ylg-eval`: FID / IS / KID of a trained run's generator, written into the run directory.

  ylg-eval --workdir=runs/ylg_digits32 --num_samples=1000
  ylg-eval --workdir=runs/imagenet128 --classifier=inception:/models/tfgan_inception

Writes `<workdir>/eval/step_<step>.json` (fid, is, kid, kid_std, num_real, num_generated,
classifier, step, ...). The EMA generator is scored when the run kept one. Every flag is
checked before the run is loaded or a classifier trained.
"""

import json
import math

from absl import app, flags

from ylg_tf.cli import app as cli_app
from ylg_tf.evaluation import evaluate_run
from ylg_tf.evaluation.classifiers import resolve_classifier_spec
from ylg_tf.runs import files

_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory (WORKSPACE.md).", required=True)
_NUM_SAMPLES = flags.DEFINE_integer(
    "num_samples",
    None,
    "Real and generated images (default: the run's config.eval.num_samples).",
    lower_bound=1,
)
_CLASSIFIER = flags.DEFINE_string(
    "classifier",
    None,
    "auto | digits | inception | inception:/saved_model_dir | inception:/module.tar.gz | "
    "inception:https://... (default: the run's config.eval.classifier, 'auto').",
)
_CACHE_DIR = flags.DEFINE_string(
    "cache_dir", None, "Classifier and real-statistics cache (default <workdir>/../.ylg_cache)."
)
_BATCH_SIZE = flags.DEFINE_integer(
    "batch_size",
    None,
    "Images per generator/classifier call (default: the run's config.eval.batch_size).",
    lower_bound=1,
)
_STEP = flags.DEFINE_integer(
    "step", None, "Checkpoint step to evaluate (default: the latest).", lower_bound=0
)
_RAW = flags.DEFINE_bool("raw", False, "Score the raw generator instead of the EMA one.")
_TRUNCATION = flags.DEFINE_float(
    "truncation", None, "Latent truncation threshold, finite and > 0 (default: none)."
)
_SEED = flags.DEFINE_integer("seed", 0, "Seed of latents and labels.")


@flags.validator("truncation")
def _valid_truncation(threshold: float | None) -> bool:
    if threshold is not None and not (math.isfinite(threshold) and threshold > 0):
        raise flags.ValidationError(
            f"truncation {threshold}; expected a finite number > 0 (leave it out for none)"
        )
    return True


cli_app.validate_with("classifier", lambda spec: resolve_classifier_spec(spec, dataset=""))


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    _run()


def _run() -> None:
    path, _ = evaluate_run(
        _WORKDIR.value,
        num_samples=_NUM_SAMPLES.value,
        classifier=_CLASSIFIER.value,
        cache_dir=_CACHE_DIR.value,
        batch_size=_BATCH_SIZE.value,
        step=_STEP.value,
        use_ema=not _RAW.value,
        truncation=_TRUNCATION.value,
        seed=_SEED.value,
    )
    print(json.dumps(files.read_json(path), indent=2))
    print(f"Wrote {path}")


def run() -> None:
    cli_app.run(main, __name__)


if __name__ == "__main__":
    run()
