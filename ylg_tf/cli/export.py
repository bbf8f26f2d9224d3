"""`ylg-export`: a trained run's generator as a SavedModel for TensorFlow Serving.

  ylg-export --workdir=runs/ylg_digits32
  saved_model_cli show --dir runs/ylg_digits32/export/<step> --all

Writes `<workdir>/export/<step>/` (a numbered version directory) with the signatures `generate`
(`serving_default`), `sample` and `attention`; see README.md for serving it.
"""

from absl import app, flags

from ylg_tf.cli import app as cli_app
from ylg_tf.export import export_run

_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory (WORKSPACE.md).", required=True)
_STEP = flags.DEFINE_integer("step", None, "Checkpoint step (default: the latest).")
_RAW = flags.DEFINE_bool("raw", False, "Export the raw generator instead of the EMA one.")
_OVERWRITE = flags.DEFINE_bool("overwrite", False, "Replace an existing export of that step.")


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    _run()


def _run() -> None:
    path = export_run(
        _WORKDIR.value, step=_STEP.value, use_ema=not _RAW.value, overwrite=_OVERWRITE.value
    )
    print(f"Exported: {path}")
    print(f"Signatures: saved_model_cli show --dir {path} --all")


def run() -> None:
    cli_app.run(main, __name__)


if __name__ == "__main__":
    run()
