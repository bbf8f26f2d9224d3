"""The masks report: a per-pattern summary table and the figures, written into a directory."""

from __future__ import annotations

import json
from pathlib import Path

from ylg_tf.masks import figures
from ylg_tf.masks.ifg import pattern_summary
from ylg_tf.masks.patterns import PATTERNS


def format_table(rows: list[dict]) -> str:
    """A Markdown table of `pattern_summary` rows."""
    lines = [
        "| pattern | n | s | steps | density per step | keys per query per step "
        "| full information | min pair flow |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        density = " / ".join(f"{d:.1%}" for d in r["density_per_step"])
        keys = " / ".join(f"{k:.1f}" for k in r["keys_per_query_per_step"])
        lines.append(
            f"| {r['pattern']} | {r['n']} | {r['block_size']} | {r['steps']} | {density} | {keys} "
            f"| {'yes' if r['full_information'] else 'no'} | {r['min_pair_flow']} |"
        )
    return "\n".join(lines)


def write_report(
    workdir: str | Path, n: int = 256, ifg_n: int = 16, layouts=("ylg", "ylg_strided"), grid=16
) -> tuple[str, list[Path]]:
    """Writes `summary.md`, `summary.json` and the PNG figures; returns the table and the paths.

    Args:
      workdir: output directory (created).
      n: number of positions for the summary table (256 = a 16x16 key grid).
      ifg_n: number of positions for the pattern and IFG figures (small enough to read).
      layouts: head layouts drawn over a `grid x grid` key grid.
      grid: key grid side for the head-mask figures.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    rows = [pattern_summary(name, n) for name in PATTERNS]
    table = format_table(rows)
    written = [workdir / "summary.md", workdir / "summary.json"]
    written[0].write_text(table + "\n")
    written[1].write_text(json.dumps(rows, indent=2) + "\n")
    sparse = [p for p in PATTERNS if p != "dense"]
    written.append(figures.plot_patterns(sparse, ifg_n, workdir / f"patterns_n{ifg_n}.png"))
    for name in sparse:
        written.append(figures.plot_ifg(name, ifg_n, workdir / f"ifg_{name}_n{ifg_n}.png"))
    for layout in layouts:
        written.append(
            figures.plot_head_masks(layout, (grid, grid), workdir / f"heads_{layout}.png")
        )
    return table, written
