"""`ylg-sample`: sample grids of a trained run per class and per truncation, and the sweep.

  ylg-sample --workdir=runs/ylg_digits32 --truncations=0.5,1.0,2.0,none
  ylg-sample --workdir=runs/ylg_digits32 --sweep --num_samples=1000

Every flag is checked before the run is loaded, so a typo costs no model loading.

Grids go to `<workdir>/samples/step_<step>_truncation_<t>.png` (a row per class) and
`step_<step>_class_<c>.png` (a row per threshold); `--sweep` also writes FID / IS / KID per
threshold to `<workdir>/eval/truncation_sweep.json` and `.png`.
"""

from absl import app, flags

from ylg_tf.cli import app as cli_app
from ylg_tf.evaluation import truncation_sweep_run
from ylg_tf.evaluation.classifiers import resolve_classifier_spec
from ylg_tf.evaluation.runs import DEFAULT_SWEEP
from ylg_tf.sampling import parse_truncations, sample_run, truncation_label

_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory (WORKSPACE.md).", required=True)
_TRUNCATIONS = flags.DEFINE_list(
    "truncations", ["0.5", "1.0", "2.0"], "Grid thresholds; 'none' = untruncated."
)
_CLASSES = flags.DEFINE_list("classes", None, "Class labels to draw (default: the first ten).")
_PER_CLASS = flags.DEFINE_integer("per_class", 8, "Samples per grid row.", lower_bound=1)
_SEED = flags.DEFINE_integer("seed", 0, "Latent seed.")
_STEP = flags.DEFINE_integer("step", None, "Checkpoint step (default: the latest).", lower_bound=0)
_RAW = flags.DEFINE_bool("raw", False, "Sample the raw generator instead of the EMA one.")
_SWEEP = flags.DEFINE_bool("sweep", False, "Also score every --sweep_truncations threshold.")
_SWEEP_TRUNCATIONS = flags.DEFINE_list(
    "sweep_truncations", [truncation_label(t) for t in DEFAULT_SWEEP], "Sweep thresholds."
)
_NUM_SAMPLES = flags.DEFINE_integer(
    "num_samples",
    None,
    "Sweep: images per threshold (default: the run's config.eval).",
    lower_bound=1,
)
_CLASSIFIER = flags.DEFINE_string("classifier", None, "Sweep: classifier (as for ylg-eval).")
_CACHE_DIR = flags.DEFINE_string("cache_dir", None, "Sweep: cache (as for ylg-eval).")


cli_app.validate_with("truncations", parse_truncations)
cli_app.validate_with("sweep_truncations", parse_truncations)
cli_app.validate_with("classifier", lambda spec: resolve_classifier_spec(spec, dataset=""))


@flags.validator("classes")
def _valid_classes(values: list[str] | None) -> bool:
    bad = [v for v in values or [] if not v.strip().isdecimal()]
    if bad:
        raise flags.ValidationError(
            f"classes {', '.join(map(repr, bad))}; expected integer labels >= 0, e.g. 0,3,7"
        )
    return True


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    _run()


def _run() -> None:
    classes = [int(c) for c in _CLASSES.value] if _CLASSES.value else None
    written = sample_run(
        _WORKDIR.value,
        _TRUNCATIONS.value,
        classes=classes,
        per_class=_PER_CLASS.value,
        seed=_SEED.value,
        step=_STEP.value,
        use_ema=not _RAW.value,
    )
    if _SWEEP.value:
        json_path, png_path, points = truncation_sweep_run(
            _WORKDIR.value,
            _SWEEP_TRUNCATIONS.value,
            num_samples=_NUM_SAMPLES.value,
            classifier=_CLASSIFIER.value,
            cache_dir=_CACHE_DIR.value,
            step=_STEP.value,
            use_ema=not _RAW.value,
            seed=_SEED.value,
        )
        for point in points:
            print(
                f"truncation {truncation_label(point['truncation']):>5}: FID {point['fid']:.3f}"
                f"  IS {point['is']:.3f}  KID {point['kid']:.5f}"
            )
        written += [json_path, png_path]
    print("Wrote:\n" + "\n".join(f"  {path}" for path in written))


def run() -> None:
    cli_app.run(main, __name__)


if __name__ == "__main__":
    run()
