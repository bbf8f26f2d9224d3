"""`ylg-eval`: the scores of a trained run's generator, written into the run directory; or the
difference of two score files measured under the same metric protocol.

  ylg-eval --workdir=runs/ylg_digits32 --num_samples=1000
  ylg-eval --workdir=runs/imagenet128 --classifier=inception:/models/tfgan_inception
  ylg-eval --workdir=runs/imagenet128 --protocol=clean
  ylg-eval --compare=runs/a/eval/step_0001500.json,runs/b/eval/step_0001500.json

Writes `<workdir>/eval/step_<step>.json` (fid, is, kid, kid_std, precision, recall, density,
coverage, intra_fid, judge_accuracy, num_real, num_generated, classifier, protocol, step, ...)
under the settings training scored with; under others the name says which differ
(`step_<step>_<protocol>_n<num_samples>_seed<seed>_raw_truncation_<t>.json`, each part only when
it differs), so that the scores its training wrote stay. It prints where it wrote.
The EMA generator is scored when the run kept one. `--compare` prints B - A of every score the two
files share, and refuses files whose protocols (backbone and weights, resize, reference data,
sample counts) differ. Every flag is checked before the run is loaded or a classifier trained.
"""

import json
import math

from absl import app, flags

from ylg_tf.cli import app as cli_app
from ylg_tf.evaluation import evaluate_run
from ylg_tf.evaluation.classifiers import resolve_classifier_spec
from ylg_tf.evaluation.compare import compare_score_files, format_comparison
from ylg_tf.evaluation.protocols import PROTOCOL_CHOICES
from ylg_tf.runs import files

_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory (WORKSPACE.md).")
_COMPARE = flags.DEFINE_list(
    "compare",
    None,
    "A.json,B.json: print B - A of two score files instead of scoring a run; refused when "
    "their metric protocols differ.",
)
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
_PROTOCOL = flags.DEFINE_enum(
    "protocol",
    None,
    list(PROTOCOL_CHOICES),
    "Metric protocol: auto (digits for the digits classifier, else tfgan), tfgan (bilinear resize "
    "without antialiasing, as TF-GAN), clean (8-bit rounding, antialiased bicubic resize) or "
    "digits (default: the run's config.eval.protocol).",
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
_SEED = flags.DEFINE_integer(
    "seed", None, "Seed of latents and labels (default: the run's config.seed, as training)."
)


@flags.validator("truncation")
def _valid_truncation(threshold: float | None) -> bool:
    if threshold is not None and not (math.isfinite(threshold) and threshold > 0):
        raise flags.ValidationError(
            f"truncation {threshold}; expected a finite number > 0 (leave it out for none)"
        )
    return True


cli_app.validate_with("classifier", lambda spec: resolve_classifier_spec(spec, dataset=""))


@flags.multi_flags_validator(["workdir", "compare"])
def _workdir_or_compare(values: dict) -> bool:
    if (values["workdir"] is None) == (values["compare"] is None):
        raise flags.ValidationError(
            "give either --workdir (score a run) or --compare=A.json,B.json"
        )
    if values["compare"] is not None and len(values["compare"]) != 2:
        raise flags.ValidationError(
            f"--compare={','.join(values['compare'])}; expected two score files, A.json,B.json"
        )
    return True


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    if _COMPARE.value:
        first, second = _COMPARE.value
        print(format_comparison(compare_score_files(first, second), first, second))
        return
    _run()


def _run() -> None:
    path, _ = evaluate_run(
        _WORKDIR.value,
        num_samples=_NUM_SAMPLES.value,
        classifier=_CLASSIFIER.value,
        protocol=_PROTOCOL.value,
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
