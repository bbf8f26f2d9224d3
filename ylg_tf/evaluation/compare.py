"""Two score files side by side (`ylg-eval --compare=A.json,B.json`), only under one protocol."""

from __future__ import annotations

from pathlib import Path

from ylg_tf.evaluation.evaluator import SCALARS
from ylg_tf.evaluation.protocols import check_same_protocol, describe_protocol
from ylg_tf.runs import files

__all__ = ["compare_score_files", "compare_scores", "format_comparison"]


def compare_scores(first: dict, second: dict, names: tuple[str, str] = ("A", "B")) -> dict:
    """`{"protocol": record, "metrics": {name: {"a", "b", "difference"}}}`, b - a per metric.

    Metrics are the TensorBoard scores (`fid`, `is`, `kid`, PRDC, `intra_fid`, `fid_infinity`,
    `judge_accuracy`) that both dicts hold and that are not null.

    Raises:
      ValueError: when either score records no protocol, the two protocols differ (the
        message names the differing fields), or the two share no metric.
    """
    for name, scores in zip(names, (first, second), strict=True):
        if scores.get("protocol") is None:
            raise ValueError(
                f"{name} records no metric protocol (written before scores recorded one); "
                "score that run again with ylg-eval to compare it."
            )
    protocol = check_same_protocol(dict(zip(names, (first, second), strict=True)))
    metrics = {
        name: {"a": first[name], "b": second[name], "difference": second[name] - first[name]}
        for name in SCALARS
        if first.get(name) is not None and second.get(name) is not None
    }
    if not metrics:
        raise ValueError(
            f"{names[0]} and {names[1]} share no score ({', '.join(SCALARS)}); compare two "
            "score files such as eval/step_<step>.json."
        )
    return {"protocol": protocol, "metrics": metrics}


def compare_score_files(first: str | Path, second: str | Path) -> dict:
    """`compare_scores` of two score JSON files (`eval/step_<step>.json`), named by path."""
    return compare_scores(
        files.read_json(first), files.read_json(second), names=(str(first), str(second))
    )


def format_comparison(comparison: dict, first: str, second: str) -> str:
    """A plain-text table of a `compare_scores` result: metric, A, B, B - A."""
    lines = [
        f"A: {first}",
        f"B: {second}",
        f"Both scored under {describe_protocol(comparison['protocol'])}.",
        "",
        f"{'metric':<16}{'A':>12}{'B':>12}{'B - A':>12}",
    ]
    for name, values in comparison["metrics"].items():
        lines.append(
            f"{name:<16}{values['a']:>12.4f}{values['b']:>12.4f}{values['difference']:>+12.4f}"
        )
    return "\n".join(lines)
