"""`ylg-masks`: prints the sparse-pattern summary and writes mask and IFG figures.

ylg-masks --n=256 --workdir=runs/masks

Every flag is checked before anything is written: a bad value stops with one line naming the flag
and what it accepts.
"""

import os

from absl import app, flags

from ylg_tf.cli import app as cli_app
from ylg_tf.masks import LAYOUT_NAMES
from ylg_tf.masks.report import write_report

_WORKDIR = flags.DEFINE_string("workdir", "runs/masks", "Directory for summary.md/json and PNGs.")
_N = flags.DEFINE_integer("n", 256, "Positions in the summary table (256 = 16x16 key grid).", 1)
_IFG_N = flags.DEFINE_integer("ifg_n", 16, "Positions in the pattern and IFG figures.", 1)
_GRID = flags.DEFINE_integer("grid", 16, "Key grid side of the head-mask figures.", 1)
_LAYOUTS = flags.DEFINE_list(
    "layouts", ["ylg", "ylg_strided"], f"Head layouts to draw, among {', '.join(LAYOUT_NAMES)}."
)


@flags.validator("layouts")
def _known_layouts(layouts: list[str]) -> bool:
    unknown = [layout for layout in layouts if layout not in LAYOUT_NAMES]
    if unknown:
        raise flags.ValidationError(
            f"unknown head layout(s) {', '.join(map(repr, unknown))}; accepted: "
            f"{', '.join(LAYOUT_NAMES)}"
        )
    return True


flags.register_validator(
    "workdir",
    lambda path: bool(path) and not (os.path.exists(path) and not os.path.isdir(path)),
    message="must name a directory (created if missing), not an existing file",
)


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    table, written = write_report(
        _WORKDIR.value, _N.value, _IFG_N.value, _LAYOUTS.value, _GRID.value
    )
    print(table)
    print("\nWrote:\n" + "\n".join(f"  {path}" for path in written))


def run() -> None:
    cli_app.run(main, __name__)


if __name__ == "__main__":
    run()
