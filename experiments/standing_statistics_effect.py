"""What the EMA generator's own batch-norm statistics ("standing statistics") do to its scores.

  python experiments/standing_statistics_effect.py --workdir=/tmp/e_main

For a trained run, scores the EMA generator of one checkpoint with the run's own evaluator (FID,
IS and KID with the run's classifier, `--num_samples` generated images, `--seed` for latents and
labels, as `ylg-eval`) and with the digits judge (`ylg_tf.evaluation.judge`: the fraction of
class-conditional samples an SVM on the original 8x8 digits recognises as their class), with its
batch-norm moving statistics set four ways:

  saved      as in the checkpoint: standing statistics measured by the trainer before saving
             (`config.train.ema_standing_batches` batches of `config.train.batch_size`);
  raw_copy   the raw generator's moving statistics copied in by weight path (what the EMA
             generator used before it had its own);
  standing_N recomputed here with N batches (`--batches`, same seed as the trainer's, so the
             first batches are the trainer's), to show whether the trainer's count has converged;
  reseeded   recomputed with the trainer's count but another seed: the spread of the estimate.

The raw generator is scored too, as a reference. Each variant starts from the checkpoint's
weights; only the moving means and variances differ, except that the recomputed ones also take
one spectral-norm power iteration per batch (as the trainer's did). All rows use the same latents
and labels, so their differences are paired. Writes `table.md` to `--results`.
"""

from __future__ import annotations

import platform
import sys
import time
from pathlib import Path

import numpy as np
from absl import app, flags

_WORKDIR = flags.DEFINE_string("workdir", None, "Trained run directory.", required=True)
_STEP = flags.DEFINE_integer("step", 0, "Checkpoint step; 0 = the latest.")
_NUM_SAMPLES = flags.DEFINE_integer("num_samples", 1000, "Generated (and real) images.")
_CLASSIFIER = flags.DEFINE_string("classifier", "digits", "FID classifier spec, as ylg-eval.")
_CACHE_DIR = flags.DEFINE_string(
    "cache_dir", None, "Classifier and real-statistics cache (default: the run's, as ylg-eval)."
)
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the evaluated latents and labels.")
_BATCHES = flags.DEFINE_list("batches", ["64"], "Batch counts of the recomputed statistics.")
_RESULTS = flags.DEFINE_string(
    "results",
    str(Path(__file__).resolve().parent / "results" / "standing_statistics"),
    "Output folder.",
)

_STATISTICS = ("moving_mean", "moving_variance")


class RecordingGenerator:
    """Calls a generator and keeps the images and labels it was asked for (for the judge)."""

    def __init__(self, generator) -> None:
        self.generator = generator
        self.z_dim = generator.z_dim
        self.images: list[np.ndarray] = []
        self.labels: list[np.ndarray] = []

    def __call__(self, inputs, training: bool = False):
        images = self.generator(inputs, training=training)
        self.images.append(np.asarray(images, np.float32))
        self.labels.append(np.asarray(inputs[1]))
        return images


def statistics_vector(generator) -> np.ndarray:
    """Every batch-norm moving mean and variance of `generator`, concatenated in path order."""
    from ylg_tf.runs.loading import model_weights

    weights = model_weights(generator)
    keys = sorted(key for key in weights if any(name in key for name in _STATISTICS))
    return np.concatenate([np.ravel(weights[key].numpy()) for key in keys])


def copy_statistics(source, target) -> int:
    """Copies every batch-norm moving mean / variance of `source` into `target` by weight path."""
    from ylg_tf.runs.loading import model_weights

    source_weights, target_weights = model_weights(source), model_weights(target)
    keys = [key for key in target_weights if any(name in key for name in _STATISTICS)]
    if not keys or set(keys) - set(source_weights):
        raise ValueError(f"The generators do not share their batch-norm statistics: {keys[:3]}")
    for key in keys:
        target_weights[key].assign(source_weights[key])
    return len(keys)


def score(evaluator, judge, generator, num_classes: int, seed: int) -> dict:
    """FID / IS / KID of `generator` and the judge's accuracy on the very same samples."""
    recording = RecordingGenerator(generator)
    scores = evaluator.evaluate_generator(recording, num_classes, seed=seed)
    images, labels = np.concatenate(recording.images), np.concatenate(recording.labels)
    scores["judge"] = judge.accuracy(images, labels)
    return scores


def variants(run, raw, batches: list[int]):
    """(name, how its statistics were set, a function that sets them on `run.generator`)."""
    from ylg_tf.training.standing_statistics import standing_statistics

    train = run.config.train
    trainer_seed = run.config.seed + run.step  # the seed the trainer used at this step

    def standing(count: int, seed: int):
        return lambda: standing_statistics(
            run.generator,
            run.info.num_classes,
            run.config.model.generator.z_dim,
            batches=count,
            batch_size=train.batch_size,
            seed=seed,
        )

    saved = (
        "saved",
        f"checkpoint: standing, {train.ema_standing_batches} x {train.batch_size}, "
        f"seed {trainer_seed}",
        lambda: None,
    )
    rows = [
        saved,
        (
            "raw_copy",
            "raw G's moving statistics",
            lambda: copy_statistics(raw.generator, run.generator),
        ),
    ]
    for count in batches:
        rows.append(
            (
                f"standing_{count}",
                f"standing, {count} x {train.batch_size}, seed {trainer_seed}",
                standing(count, trainer_seed),
            )
        )
    if train.ema_standing_batches:
        count, seed = train.ema_standing_batches, trainer_seed + 1_000_003
        rows.append(
            (
                "reseeded",
                f"standing, {count} x {train.batch_size}, seed {seed}",
                standing(count, seed),
            )
        )
    return rows


def markdown(rows: list[dict], header: list[str]) -> str:
    lines = ["# Standing batch-norm statistics of the EMA generator", "", *header, ""]
    lines += [
        "| generator | batch-norm statistics | FID ↓ | IS ↑ | KID ↓ | judge accuracy ↑ "
        "| ΔFID vs saved | stats change vs saved |",
        "|---|---|---|---|---|---|---|---|",
    ]
    base = rows[0]["fid"]
    for row in rows:
        change = "" if row["change"] is None else f"{row['change']:.3f}"
        lines.append(
            f"| {row['name']} | {row['how']} | {row['fid']:.3f} | {row['is']:.3f} "
            f"| {row['kid']:.5f} ± {row['kid_std']:.5f} | {100 * row['judge']:.1f}% "
            f"| {row['fid'] - base:+.3f} | {change} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> None:
    del argv
    from ylg_tf.evaluation.evaluator import make_evaluator
    from ylg_tf.evaluation.judge import DigitsJudge
    from ylg_tf.runs import files
    from ylg_tf.runs.loading import load_run

    began = time.perf_counter()
    step = _STEP.value or None
    run = load_run(_WORKDIR.value, step=step)
    if not run.ema:
        raise ValueError(f"{run.checkpoint} has no EMA generator (config.train.ema_decay = 0).")
    raw = load_run(_WORKDIR.value, step=run.step, use_ema=False)
    evaluator = make_evaluator(
        run.config,
        run.directory,
        num_samples=_NUM_SAMPLES.value,
        classifier=_CLASSIFIER.value,
        cache_dir=_CACHE_DIR.value,
    )
    exclude = None if run.config.data.split == "train" else run.config.data.split
    judge = DigitsJudge.fit(seed=0, exclude_split=exclude)
    classes, seed = run.info.num_classes, _SEED.value

    checkpoint_weights = run.generator.get_weights()
    saved_statistics = statistics_vector(run.generator)
    rows = []
    for name, how, set_statistics in variants(run, raw, [int(b) for b in _BATCHES.value]):
        run.generator.set_weights(checkpoint_weights)
        set_statistics()
        statistics = statistics_vector(run.generator)
        change = np.linalg.norm(statistics - saved_statistics) / np.linalg.norm(saved_statistics)
        rows.append(
            {
                "name": f"EMA, {name}",
                "how": how,
                "change": change,
                **score(evaluator, judge, run.generator, classes, seed),
            }
        )
        print(f"{name}: FID {rows[-1]['fid']:.3f}, judge {rows[-1]['judge']:.3f}", flush=True)
    rows.append(
        {
            "name": "raw G",
            "how": "its own moving statistics",
            "change": None,
            **score(evaluator, judge, raw.generator, classes, seed),
        }
    )

    logged = run.directory.scores(run.step)
    logged_fid = files.read_json(logged)["fid"] if files.exists(logged) else None
    minutes = (time.perf_counter() - began) / 60
    command = "python experiments/standing_statistics_effect.py " + " ".join(sys.argv[1:])
    header = [
        f"Command: `{command}`",
        "",
        f"Model: `{run.checkpoint}` ({run.config.model.variant}, {run.config.data.resolution}x"
        f"{run.config.data.resolution} {run.config.data.name}, step {run.step}, EMA decay "
        f"{run.config.train.ema_decay}).",
        f"Scores: {rows[0]['num_generated']} generated vs {rows[0]['num_real']} real images, "
        f"classifier `{rows[0]['classifier']}`, latents and labels from seed {seed} (the same "
        "samples in every row). KID ± its block std. Judge: "
        f"{judge.describe()['model']}, held-out accuracy on real digits "
        f"{100 * judge.held_out_accuracy:.1f}%.",
        "Stats change: ‖s − s_saved‖ / ‖s_saved‖ over all moving means and variances.",
        "The training's own evaluation of this checkpoint: "
        + (f"FID {logged_fid:.3f} (`{logged}`)." if logged_fid is not None else "none."),
        f"This table took {minutes:.1f} min on {platform.machine()} (CPU).",
    ]
    text = markdown(rows, header)
    results = Path(_RESULTS.value)
    results.mkdir(parents=True, exist_ok=True)
    (results / "table.md").write_text(text)
    print(text)


if __name__ == "__main__":
    app.run(main)
