"""`ylg-masks`: prints the sparse-pattern summary and writes mask and IFG figures.

ylg-masks --n=256 --workdir=runs/masks
"""

from absl import app, flags

from ylg_tf.masks.report import write_report

_WORKDIR = flags.DEFINE_string("workdir", "runs/masks", "Directory for summary.md/json and PNGs.")
_N = flags.DEFINE_integer("n", 256, "Positions in the summary table (256 = 16x16 key grid).")
_IFG_N = flags.DEFINE_integer("ifg_n", 16, "Positions in the pattern and IFG figures.")
_GRID = flags.DEFINE_integer("grid", 16, "Key grid side of the head-mask figures.")
_LAYOUTS = flags.DEFINE_list("layouts", ["ylg", "ylg_strided"], "Head layouts to draw.")


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    table, written = write_report(
        _WORKDIR.value, _N.value, _IFG_N.value, _LAYOUTS.value, _GRID.value
    )
    print(table)
    print("\nWrote:\n" + "\n".join(f"  {path}" for path in written))


def run() -> None:
    app.run(main)


if __name__ == "__main__":
    run()
