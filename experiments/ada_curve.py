"""ADA's augmentation probability p and overfitting heuristic r_t over a run, as a picture.

  python experiments/ada_curve.py --workdir=runs/ylg_digits32_ada --out=ada_p.png

Reads the `ada_p` and `ada_r` scalars that training logs to the run's TensorBoard events (every
`config.train.log_every` steps) and plots them against the step, with the run's target, so that
one sees whether D overfitted (r_t above the target) and how far p had to go.
"""

from __future__ import annotations

from absl import app, flags

_WORKDIR = flags.DEFINE_string("workdir", None, "A run trained with ADA.", required=True)
_OUT = flags.DEFINE_string("out", None, "The PNG to write.", required=True)
_LABEL = flags.DEFINE_string("label", "", "A title; default: the run directory.")


def read_scalars(logs: str, names: tuple[str, ...]) -> dict[str, dict[int, float]]:
    """`{name: {step: value}}` of the scalar summaries `names` in the event files of `logs`, read
    by TensorBoard's own reader (a later event of a step, e.g. after a resume, replaces an earlier
    one)."""
    import tensorflow as tf
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(logs, size_guidance={"tensors": 0}).Reload()
    tags = set(events.Tags()["tensors"])
    return {
        name: {e.step: float(tf.make_ndarray(e.tensor_proto)) for e in events.Tensors(name)}
        if name in tags
        else {}
        for name in names
    }


def plot(path: str, scalars: dict[str, dict[int, float]], target: float, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 3.8))
    for name, label, colour in (("ada_p", "p", "tab:blue"), ("ada_r", "r_t", "tab:orange")):
        steps = sorted(scalars[name])
        axes.plot(steps, [scalars[name][s] for s in steps], color=colour, label=label)
    axes.axhline(target, color="tab:orange", linestyle=":", label=f"target {target:g}")
    axes.set(xlabel="training step", ylim=(-1.05, 1.05), title=title)  # r_t in [-1, 1]
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main(argv: list[str]) -> None:
    del argv
    from ylg_tf.runs.directory import RunDirectory

    run_dir = RunDirectory(_WORKDIR.value)
    try:
        config = run_dir.read_config()
    except FileNotFoundError as error:
        raise app.UsageError(str(error)) from None
    if not config.train.ada_target:
        raise app.UsageError(f"{run_dir.path} trained without ADA (config.train.ada_target=0).")
    scalars = read_scalars(str(run_dir.logs), ("ada_p", "ada_r"))
    if not scalars["ada_p"]:
        raise app.UsageError(f"{run_dir.logs} holds no ada_p scalars yet.")
    plot(_OUT.value, scalars, config.train.ada_target, _LABEL.value or str(run_dir.path))
    last = max(scalars["ada_p"])
    print(f"Wrote {_OUT.value}: p {scalars['ada_p'][last]:.3f} at step {last}")


if __name__ == "__main__":
    app.run(main)
