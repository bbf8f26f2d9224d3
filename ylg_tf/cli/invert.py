"""`ylg-invert`: invert images with a trained run's generator (YLG's saliency-weighted method).

  ylg-invert --workdir=runs/ylg_digits32 --image=digit.png --label=3
  ylg-invert --workdir=runs/ylg_digits32 --from_samples=4 --method=pixel --steps=300

Writes `inversion.npz`, `loss_curve.csv` / `.png` and `image_<k>.png` (target | inversion |
saliency per head) to `--outdir` (default `<workdir>/inversion/<method>`).
"""

from absl import app, flags, logging

from ylg_tf.cli import app as cli_app
from ylg_tf.inversion import METHODS, invert_run, progress_logger

_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory (WORKSPACE.md).", required=True)
_STEP = flags.DEFINE_integer("step", 0, "Checkpoint step; 0 = the latest.")
_IMAGE = flags.DEFINE_multi_string("image", [], "Image file(s); repeat or separate by commas.")
_FROM_SAMPLES = flags.DEFINE_integer(
    "from_samples", 0, "Instead of --image, invert N images the model generates (z known)."
)
_LABEL = flags.DEFINE_list("label", [], "Class label: one for all images, or one per image.")
_METHOD = flags.DEFINE_enum("method", METHODS[0], METHODS, "Inversion loss.")
_STEPS = flags.DEFINE_integer("steps", 1500, "Maximum optimizer steps.")
_RESTARTS = flags.DEFINE_integer("restarts", 4, "Random restarts per image (one batch).")
_HEADS = flags.DEFINE_list("heads", [], "Head indices for --method=ylg_heads, e.g. 0,3.")
_PATIENCE = flags.DEFINE_integer("patience", 100, "Early stop window in steps; 0 = never.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the initial latents.")
_OUTDIR = flags.DEFINE_string("outdir", None, "Output directory.")


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    paths = [p.strip() for value in _IMAGE.value for p in value.split(",") if p.strip()]
    try:
        inversion = invert_run(
            _WORKDIR.value,
            step=_STEP.value or None,
            image_paths=paths,
            from_samples=_FROM_SAMPLES.value,
            labels=[int(label) for label in _LABEL.value],
            method=_METHOD.value,
            outdir=_OUTDIR.value,
            progress=progress_logger(_STEPS.value),
            steps=_STEPS.value,
            restarts=_RESTARTS.value,
            heads=[int(head) for head in _HEADS.value] or None,
            patience=_PATIENCE.value,
            seed=_SEED.value,
        )
    except ValueError as error:  # a bad flag value: a usage error (exit code 1, short)
        raise app.UsageError(str(error)) from error
    for note in inversion.notes:
        print(note)
    result = inversion.result
    print(f"{result.method}: {result.steps_run} steps; final loss per image:")
    for k, loss in enumerate(result.final_loss):
        print(
            f"  image {k} (label {result.labels[k]}): {loss:.5g} (restart {result.best_restart[k]})"
        )
    logging.info("Wrote %s", inversion.outdir)
    print(f"Wrote {inversion.outdir}")


def run() -> None:
    cli_app.run(main, __name__)


if __name__ == "__main__":
    run()
