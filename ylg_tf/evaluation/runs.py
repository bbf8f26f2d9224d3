"""Evaluating a trained run: `ylg-eval`'s scores and the truncation sweep of `ylg-sample`.

Both load the run's generator with `ylg_tf.runs.loading.load_run` (the EMA generator when the run
kept one) and build the evaluator from the run's config (`make_evaluator`), so that the scores
match those logged during training for the same sample count and classifier.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ylg_tf.evaluation.classifiers import resolve_classifier_spec
from ylg_tf.evaluation.evaluator import Evaluator, make_evaluator, write_scores
from ylg_tf.evaluation.protocols import resolve_protocol
from ylg_tf.evaluation.settings import eval_settings
from ylg_tf.runs import files
from ylg_tf.runs.loading import load_run
from ylg_tf.sampling.truncation import parse_truncations, truncation_label

__all__ = [
    "evaluate_run",
    "plot_truncation_sweep",
    "truncation_sweep",
    "truncation_sweep_run",
]

DEFAULT_SWEEP = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, None)


def evaluate_run(
    workdir: str | Path,
    *,
    num_samples: int | None = None,
    classifier: str | None = None,
    protocol: str | None = None,
    cache_dir: str | Path | None = None,
    batch_size: int | None = None,
    step: int | None = None,
    use_ema: bool = True,
    truncation: float | None = None,
    seed: int | None = None,
) -> tuple[Path, dict]:
    """The scores of a run's generator, written to `<workdir>/eval/step_<step>.json`.

    That is the name training's own scores have (`config.eval`, the EMA generator, the run's
    seed); a score under other settings never replaces them: the name adds each setting that
    differs, `_<protocol>`, `_n<num_samples>`, `_seed<seed>`, `_raw`, `_truncation_<t>`
    (`step_0000040_n500.json`).

    Args:
      workdir: the run directory.
      num_samples: real and generated images (default `config.eval.num_samples`).
      classifier: `"auto"`, `"digits"`, `"inception"`, `"inception:<dir|.tar.gz|URL>"`
        (default `config.eval.classifier`).
      protocol: `"auto"`, `"tfgan"`, `"clean"` or `"digits"` (default `config.eval.protocol`).
      cache_dir: classifier and real-statistics cache (default `<workdir>/../.ylg_cache`).
      batch_size: images per generator / classifier call.
      step, use_ema: which checkpoint and generator (`load_run`).
      truncation: latent truncation threshold (None: untruncated, the standard setting).
      seed: seed of latents and labels (default `config.seed`, as training scored).

    Returns:
      `(path of the JSON, scores)`; the scores hold `fid`, `is`, `kid`, `kid_std`, PRDC,
      intra-class FID, the judge's accuracy (as `config.eval` enables them), `num_real`,
      `num_generated`, `classifier`, `protocol`, `step` and what else identifies the setting.
    """
    run, evaluator = _run_and_evaluator(
        workdir, step, use_ema, num_samples, classifier, cache_dir, batch_size, protocol
    )
    seed = run.config.seed if seed is None else seed
    files.check_directory(run.directory.eval)
    scores = evaluator.evaluate_generator(
        run.generator, run.info.num_classes, truncation=truncation, seed=seed
    )
    scores.update(step=run.step, generator="ema" if run.ema else "raw")
    suffix = _settings_suffix(run.config, evaluator, num_samples, seed, use_ema, truncation)
    return write_scores(run.directory.scores(run.step, suffix), scores), scores


def _settings_suffix(config, evaluator: Evaluator, num_samples, seed, use_ema, truncation) -> str:
    """The score file's suffix: each setting that differs from the ones training scored with
    (`config.eval`, `config.seed`, the EMA generator, no truncation); `""` when none does."""
    settings = eval_settings(config)
    spec = resolve_classifier_spec(settings.classifier, config.data.name)
    suffix = ""
    if evaluator.protocol.name != resolve_protocol(settings.protocol, spec).name:
        suffix += f"_{evaluator.protocol.name}"
    if num_samples is not None and num_samples != settings.num_samples:
        suffix += f"_n{num_samples}"
    if seed != config.seed:
        suffix += f"_seed{seed}"
    if not use_ema and config.train.ema_decay:
        suffix += "_raw"
    if truncation is not None:
        suffix += f"_truncation_{truncation_label(truncation)}"
    return suffix


def truncation_sweep(
    evaluator: Evaluator,
    generator,
    num_classes: int,
    truncations: Sequence[float | None] | str = DEFAULT_SWEEP,
    seed: int = 0,
) -> list[dict]:
    """FID, IS and KID per truncation threshold (None = untruncated), same seed for each."""
    return [
        evaluator.evaluate_generator(generator, num_classes, truncation=threshold, seed=seed)
        for threshold in parse_truncations(truncations)
    ]


def plot_truncation_sweep(points: Sequence[dict], path: str | Path) -> Path:
    """FID (left axis) and IS (right axis) against the threshold, as a PNG.

    The untruncated point is drawn as a dashed horizontal line of each metric.
    """
    fig = Figure(figsize=(6.0, 3.6))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    right = ax.twinx()
    finite = [p for p in points if p["truncation"] is not None]
    finite.sort(key=lambda p: p["truncation"])
    x = [p["truncation"] for p in finite]
    for axis, key, colour, label in (
        (ax, "fid", "tab:blue", "FID"),
        (right, "is", "tab:red", "IS"),
    ):
        axis.plot(x, [p[key] for p in finite], "o-", color=colour, label=label)
        axis.set_ylabel(label, color=colour)
        for p in points:
            if p["truncation"] is None:
                axis.axhline(p[key], color=colour, linestyle="--", linewidth=1)
    ax.set_xlabel("truncation threshold (dashed: untruncated)")
    first = points[0]
    ax.set_title(
        f"Truncation sweep: {first['num_generated']} generated vs {first['num_real']} real, "
        f"{first['classifier']}",
        fontsize=9,
    )
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return files.as_path(files.write_bytes(path, buffer.getvalue()))


def truncation_sweep_run(
    workdir: str | Path,
    truncations: Sequence[float | None] | str = DEFAULT_SWEEP,
    *,
    num_samples: int | None = None,
    classifier: str | None = None,
    protocol: str | None = None,
    cache_dir: str | Path | None = None,
    batch_size: int | None = None,
    step: int | None = None,
    use_ema: bool = True,
    seed: int = 0,
) -> tuple[Path, Path, list[dict]]:
    """A run's truncation sweep: `<workdir>/eval/truncation_sweep.{json,png}`.

    Arguments as in `evaluate_run`. The JSON holds `step`, `generator`, `classifier`, `protocol`,
    `num_real`, `num_generated` and `points` (one score dict per threshold, `truncation` null =
    untruncated).
    """
    run, evaluator = _run_and_evaluator(
        workdir, step, use_ema, num_samples, classifier, cache_dir, batch_size, protocol
    )
    points = truncation_sweep(evaluator, run.generator, run.info.num_classes, truncations, seed)
    summary = {
        "step": run.step,
        "generator": "ema" if run.ema else "raw",
        "classifier": evaluator.classifier.name,
        "protocol": points[0]["protocol"],
        "num_real": points[0]["num_real"],
        "num_generated": points[0]["num_generated"],
        "best_fid_truncation": min(points, key=lambda p: p["fid"])["truncation"],
        "points": [
            {k: v for k, v in p.items() if k in ("truncation", "fid", "is", "kid", "kid_std")}
            for p in points
        ],
    }
    json_path = write_scores(run.directory.join("eval", "truncation_sweep.json"), summary)
    png_path = plot_truncation_sweep(points, run.directory.join("eval", "truncation_sweep.png"))
    return json_path, png_path, points


def _run_and_evaluator(
    workdir, step, use_ema, num_samples, classifier, cache_dir, batch_size, protocol
):
    """The loaded run and an evaluator set up for it (shared by the run-level entry points)."""
    run = load_run(workdir, step=step, use_ema=use_ema)
    evaluator = make_evaluator(
        run.config,
        run.directory,
        num_samples=num_samples,
        classifier=classifier,
        protocol=protocol,
        cache_dir=cache_dir,
        batch_size=batch_size,
    )
    return run, evaluator
