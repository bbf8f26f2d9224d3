"""The scores of main-job runs (one per seed, or per candidate) as tuning.md's table and a picture.

  python experiments/seed_scores.py --run=runs/seed0 --run=runs/seed1 --figure=seeds.png

Reads every evaluation that training wrote (`<workdir>/eval/step_<step>.json`), prints one
Markdown table row per run and step (the columns of experiments/results/main_job/tuning.md),
then the last evaluations' median and worst figures against the main job's targets, and with
`--figure` draws each run's recall against its precision, step by step, since one number per seed
hides whether a run collapsed or is still spreading out.
"""

from __future__ import annotations

import math
import statistics

from absl import app, flags

# Not `required=True`: that registers a validator on absl's global flags, which then fails any
# other script's flag parsing in a process that imported this one (pytest imports every test
# module, tests/test_seed_scores.py this file); `main` asks for it instead.
_RUNS = flags.DEFINE_multi_string("run", None, "A run directory (repeat the flag).")
_FIGURE = flags.DEFINE_string("figure", None, "A PNG of recall against precision to write.")

#: The main job's targets (median over seeds unless named): a diverse job, as well as a right one.
TARGETS = {"recall": 0.6, "worst recall": 0.45, "precision": 0.9, "judge": 0.98, "fid": 20.0}
_COLUMNS = ("fid", "is", "kid", "judge_accuracy", "precision", "recall", "intra_fid")


def read_scores(workdir: str) -> dict[int, dict]:
    """`{step: scores}` of the evaluations training wrote to the run `workdir`."""
    from ylg_tf.runs.directory import RunDirectory

    return {scores["step"]: scores for scores in RunDirectory(workdir).training_scores()}


def table_rows(label: str, scores: dict[int, dict]) -> list[str]:
    """Markdown rows: `| label | step | FID | IS | KID | judge | precision | recall | intra-FID |`
    (tuning.md's columns)."""

    def cell(name: str, value) -> str:
        if value is None:
            return "-"
        return (
            f"{value:.3f}" if name in ("judge_accuracy", "precision", "recall") else f"{value:.1f}"
        )

    rows = []
    for index, step in enumerate(sorted(scores)):
        cells = [cell(name, scores[step].get(name)) for name in _COLUMNS]
        rows.append(f"| {label if index == 0 else ''} | {step} | " + " | ".join(cells) + " |")
    return rows


def summary(last: dict[str, dict]) -> dict[str, float]:
    """The median (and the worst recall) over runs of their last evaluations, named as TARGETS;
    NaN for a score that no run has (the judge scores digits only)."""

    def values(name: str) -> list[float]:
        return [scores[name] for scores in last.values() if scores.get(name) is not None]

    def median(name: str) -> float:
        return statistics.median(values(name)) if values(name) else math.nan

    return {
        "recall": median("recall"),
        "worst recall": min(values("recall")),
        "precision": median("precision"),
        "judge": median("judge_accuracy"),
        "fid": median("fid"),
    }


def plot(path: str, runs: dict[str, dict[int, dict]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 5))
    axes.fill_between(  # where the median run should land
        [TARGETS["precision"], 1.02], TARGETS["recall"], 1.02, color="tab:green", alpha=0.1
    )
    axes.axhline(TARGETS["recall"], color="tab:green", linestyle=":", label="median recall target")
    axes.axhline(TARGETS["worst recall"], color="tab:red", linestyle=":", label="worst-seed recall")
    axes.axvline(TARGETS["precision"], color="tab:gray", linestyle=":", label="precision target")
    for label, scores in runs.items():
        steps = sorted(scores)
        x = [scores[s]["precision"] for s in steps]
        y = [scores[s]["recall"] for s in steps]
        (line,) = axes.plot(x, y, marker="o", markersize=3, alpha=0.6)
        axes.plot(x[-1], y[-1], marker="*", markersize=12, color=line.get_color(), label=label)
        axes.annotate(f"{steps[-1]}", (x[-1], y[-1]), textcoords="offset points", xytext=(5, 4))
    axes.set(xlabel="precision", ylabel="recall", xlim=(0, 1.02), ylim=(0, 1.02))
    axes.set_title("recall against precision, each evaluation (star: the last, with its step)")
    axes.title.set_fontsize(9)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7, loc="lower left")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main(argv: list[str]) -> None:
    del argv
    if not _RUNS.value:
        raise app.UsageError("--run is required: a run directory (repeat it for several runs).")
    runs = {}
    for workdir in _RUNS.value:
        scores = {
            step: s for step, s in read_scores(workdir).items() if s.get("recall") is not None
        }
        if not scores:
            raise app.UsageError(f"{workdir} holds no evaluation with recall (eval/step_*.json).")
        runs[workdir.rstrip("/")] = scores
    print("| run | step | FID | IS | KID | judge | precision | recall | intra-FID |")
    print("|---|---|---|---|---|---|---|---|---|")
    for label, scores in runs.items():
        print("\n".join(table_rows(label, scores)))
    figures = summary({label: scores[max(scores)] for label, scores in runs.items()})
    met = {
        name: figures[name] <= target if name == "fid" else figures[name] >= target
        for name, target in TARGETS.items()
    }
    print(
        "Last evaluations: "
        + ", ".join(
            f"{name} {figures[name]:.3g} ({'meets' if met[name] else 'misses'} {TARGETS[name]:g})"
            for name in TARGETS
        )
    )
    if _FIGURE.value:
        plot(_FIGURE.value, runs)
        print(f"Wrote {_FIGURE.value}")


if __name__ == "__main__":
    app.run(main)
