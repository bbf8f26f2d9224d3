"""The ablation runner: every arm of a study, several seeds, one budget; then the results table.

  python experiments/ablation.py                        # all studies, 3 seeds, README's budget
  python experiments/ablation.py --studies=variants --seeds=5 --dataset=cifar10
  python experiments/ablation.py --report_only          # tables and plots from finished runs
  python experiments/ablation.py --parallel=2           # two runs at a time

Each (arm, seed) is one `ylg-train` run of `experiments/configs/ablation.py` in
`<root>/<arm>/seed_<k>/`, started as a subprocess (a fresh TensorFlow per run; its log goes to
`train.log` there). A run counts as done when its last evaluation, `eval/step_<steps>.json`,
exists; running the command again skips done runs and resumes unfinished ones from their
checkpoints. All runs share one evaluation cache (`<root>/.ylg_cache`), so the classifier and the
real statistics are computed once. The reports go to `--results`: per study `<study>.md` and
`<study>.csv` (mean and standard deviation over seeds of the EMA generator's FID / IS / KID at the
last step, and of precision / recall / density / coverage, intra-class FID, FID-infinity and the
digits judge's accuracy where the runs recorded them; the best FID over the evaluations, the
attention gammas of the last checkpoint, and the paired FID differences to the study's first arm
with the smallest difference the seeds could detect), `<study>_fid.png` (FID against training
step, mean over seeds with a band of one standard deviation), and `runs.csv` (every evaluation
of every run, with the attention gammas of the checkpoint of its step when the run still keeps
it). Every score a report puts side by side must have been measured under one metric protocol
(`ylg_tf.evaluation.protocols`: backbone and weights, resize, reference data, sample counts); the
report refuses runs whose score files differ in it.
"""

from __future__ import annotations

import csv
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from absl import app, flags

from ylg_tf.evaluation.protocols import check_same_protocol, describe_protocol
from ylg_tf.models.architecture import generator_plan
from ylg_tf.runs.config import import_file
from ylg_tf.runs.directory import RunDirectory

CONFIG_FILE = Path(__file__).resolve().parent / "configs" / "ablation.py"


CONFIG = import_file(CONFIG_FILE)

_STUDIES = flags.DEFINE_list("studies", list(CONFIG.STUDIES), f"Any of {list(CONFIG.STUDIES)}.")
_ARMS = flags.DEFINE_list("arms", [], "Only these arms of the studies (default: all).")
_SEEDS = flags.DEFINE_integer("seeds", 3, "Seeds 0..N-1 per arm.")
_ROOT = flags.DEFINE_string("root", "runs/ablation", "Directory of the runs.")
_RESULTS = flags.DEFINE_string("results", "experiments/results/ablation", "Where reports go.")
_DATASET = flags.DEFINE_string("dataset", "digits", "'digits', a tfds name or 'folder:/path'.")
_STEPS = flags.DEFINE_integer("steps", CONFIG.BUDGET["steps"], "Training steps per run.")
_EVAL_EVERY = flags.DEFINE_integer("eval_every", CONFIG.BUDGET["eval_every"], "Steps per eval.")
_EVAL_SAMPLES = flags.DEFINE_integer(
    "eval_samples", CONFIG.BUDGET["eval_samples"], "Real and generated images per evaluation."
)
_BATCH_SIZE = flags.DEFINE_integer("batch_size", CONFIG.BUDGET["batch_size"], "Global batch.")
_PARALLEL = flags.DEFINE_integer("parallel", 1, "Runs trained at the same time.")
_REPORT_ONLY = flags.DEFINE_bool("report_only", False, "Only write the reports.")

METRICS = ("fid", "is", "kid")
#: Scores beyond FID / IS / KID, with their table digits, shown when the runs recorded them.
EXTRA_METRICS = {
    "precision": 2,
    "recall": 2,
    "density": 2,
    "coverage": 2,
    "intra_fid": 1,
    "fid_infinity": 1,
    "judge_accuracy": 3,
}


def study_arms(studies: list[str], only: list[str]) -> list[str]:
    """The arms of `studies` in table order, each once, restricted to `only` when given."""
    for study in studies:
        if study not in CONFIG.STUDIES:
            raise ValueError(f"Unknown study {study!r}; known: {list(CONFIG.STUDIES)}.")
    unknown = sorted(set(only) - set(CONFIG.ARMS))
    if unknown:
        raise ValueError(f"Unknown arms {unknown}; known: {sorted(CONFIG.ARMS)}.")
    arms = dict.fromkeys(arm for study in studies for arm in CONFIG.STUDIES[study])
    return [arm for arm in arms if not only or arm in only]


def config_arg(arm: str, seed: int, budget: dict) -> str:
    values = {"arm": arm, "seed": seed, **budget}
    return ",".join(f"{key}={value}" for key, value in values.items())


def run_dir(root: Path, arm: str, seed: int) -> Path:
    return root / arm / f"seed_{seed}"


def final_eval(workdir: Path, steps: int) -> Path:
    return workdir / "eval" / f"step_{steps:07d}.json"


def train(arm: str, seed: int, root: Path, budget: dict) -> float:
    """Runs (or resumes) one run in a subprocess; returns its wall time in seconds.

    A run stopped between its last checkpoint and its last evaluation resumes with nothing left
    to train, so `ylg-eval` then scores that checkpoint with the run's own seed.
    """
    workdir = run_dir(root, arm, seed)
    workdir.mkdir(parents=True, exist_ok=True)
    commands = [
        [
            "ylg_tf.cli.train",
            f"--config={CONFIG_FILE}:{config_arg(arm, seed, budget)}",
            f"--workdir={workdir}",
            f"--config.eval.cache_dir={root / '.ylg_cache'}",
        ],
        ["ylg_tf.cli.evaluate", f"--workdir={workdir}", f"--seed={seed}"],
    ]
    start = time.monotonic()
    for command in commands:
        if final_eval(workdir, budget["steps"]).exists():
            break
        command = [sys.executable, "-m", *command]
        with open(workdir / "train.log", "a") as log:
            log.write(f"$ {' '.join(command)}\n")
            log.flush()
            result = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, check=False)
        if result.returncode:
            raise RuntimeError(
                f"{arm} seed {seed} failed (exit {result.returncode}); see {workdir / 'train.log'}."
            )
    return time.monotonic() - start


#: Checkpoint slots whose attention gammas the reports show, with their column names.
GAMMA_SLOTS = {"ema_generator": "g_gamma", "discriminator": "d_gamma"}
#: The zero-initialized scalar that lets an attention layer's output into the residual stream.
GAMMA_NAMES = ("gamma", "gate")


def attention_gammas(workdir: Path, step: int) -> dict[str, float]:
    """The largest |gamma| over each model's attention layers in checkpoint `ckpt-<step>`.

    Attention layers start with gamma = 0 (SAGAN), so |gamma| says how far training has let
    attention into the features the score measures. NaN without attention or without that
    checkpoint (a run keeps its last few).
    """
    prefix = workdir / "checkpoints" / f"ckpt-{step}"
    gammas = dict.fromkeys(GAMMA_SLOTS.values(), float("nan"))
    if not Path(f"{prefix}.index").exists():
        return gammas
    import tensorflow as tf

    reader = tf.compat.v1.train.NewCheckpointReader(str(prefix))
    for key in reader.get_variable_to_shape_map():
        slot, _, rest = key.partition("_weights/")
        path = rest.removesuffix("/.ATTRIBUTES/VARIABLE_VALUE").replace(".S", "/")
        layer, _, weight = path.rpartition("/")
        if slot in GAMMA_SLOTS and layer.startswith("attention") and weight in GAMMA_NAMES:
            value = abs(float(np.ravel(reader.get_tensor(key))[0]))
            column = GAMMA_SLOTS[slot]
            gammas[column] = np.nanmax([gammas[column], value])
    return gammas


def summarize(root: Path, arms: list[str], seeds: int, steps: int) -> dict[str, dict]:
    """Per arm: the scores at step `steps` of the seeds that reached it, the best FID and the
    FID curve up to it (`--report_only --steps=k` scores a study at its evaluation k), and the
    metric protocol they share.

    Raises:
      ValueError: when two of those score files were measured under different protocols.
    """
    summary, scored = {}, {}
    for arm in arms:
        runs, finished, gammas = [], [], []
        for seed in range(seeds):
            scores = RunDirectory(run_dir(root, arm, seed)).training_scores()
            evals = [e for e in scores if e["step"] <= steps]
            if evals and evals[-1]["step"] == steps:
                runs.append(evals)
                finished.append(seed)
                gammas.append(attention_gammas(run_dir(root, arm, seed), steps))
                for e in evals:
                    scored[f"{arm} seed {seed} step {e['step']}"] = e
        if runs:
            summary[arm] = {
                "seeds": len(runs),
                "fid_by_seed": {
                    seed: run[-1]["fid"] for seed, run in zip(finished, runs, strict=True)
                },
                **{name: np.array([run[-1][name] for run in runs]) for name in METRICS},
                **{name: _recorded(runs, name) for name in EXTRA_METRICS},
                "best_fid": np.array([min(e["fid"] for e in run) for run in runs]),
                "steps": np.array([e["step"] for e in runs[0]]),
                "fid_curves": np.array([[e["fid"] for e in run] for run in runs]),
                **{name: np.array([g[name] for g in gammas]) for name in GAMMA_SLOTS.values()},
            }
    protocol = check_same_protocol(scored) if scored else None
    for row in summary.values():
        row["protocol"] = protocol
    return summary


def _recorded(runs: list[list[dict]], name: str) -> np.ndarray:
    """A score of each run's last evaluation, NaN where the run did not record it."""
    values = [run[-1].get(name) for run in runs]
    return np.array([np.nan if value is None else value for value in values], dtype=float)


def extra_metrics(summary: dict, arms: list[str]) -> list[str]:
    """The scores beyond FID / IS / KID that some run of `arms` recorded."""
    return [
        name for name in EXTRA_METRICS if any(np.any(~np.isnan(summary[arm][name])) for arm in arms)
    ]


def metric_cell(values: np.ndarray, digits: int) -> str:
    """Mean ± std over the seeds that recorded a score; a dash where none did."""
    values = values[~np.isnan(values)]
    return mean_std(values, digits) if len(values) else "–"


def mean_std(values: np.ndarray, digits: int) -> str:
    if len(values) < 2:
        return f"{values.mean():.{digits}f}"
    return f"{values.mean():.{digits}f} ± {values.std(ddof=1):.{digits}f}"


def gamma_cell(values: np.ndarray) -> str:
    """Mean ± std of |gamma| over seeds; a dash for an arm without attention."""
    values = values[~np.isnan(values)]
    return mean_std(values, 3) if len(values) else "–"


def detectable_difference(paired: np.ndarray) -> float:
    """The smallest mean paired difference `paired` can tell from zero: 2 s_d / sqrt(n)."""
    return 2 * paired.std(ddof=1) / np.sqrt(len(paired))


def seeds_to_detect(paired: np.ndarray, difference: float) -> int:
    """Seeds n with 2 s_d / sqrt(n) <= `difference`, s_d the paired differences' spread."""
    return int(np.ceil((2 * paired.std(ddof=1) / difference) ** 2))


def paired_fid_difference(summary: dict, arm: str, reference: str) -> np.ndarray:
    """FID of `arm` minus FID of `reference` for each seed both finished.

    Runs of one seed share their data order and evaluation latents, and at a small budget the
    seed moves every arm's FID together; paired differences take that shared part out.
    """
    mine, theirs = summary[arm]["fid_by_seed"], summary[reference]["fid_by_seed"]
    return np.array([mine[seed] - theirs[seed] for seed in sorted(mine) if seed in theirs])


def write_study_table(path: Path, study: str, summary: dict, header: str) -> None:
    """Markdown and CSV: one row per arm.

    The study's first arm is the reference of the paired "FID - reference" column.
    """
    arms = [arm for arm in CONFIG.STUDIES[study] if arm in summary]
    reference = arms[0]
    extra = extra_metrics(summary, arms)
    lines = [
        header,
        "",
        f"| arm | what | seeds | FID | FID - {reference} (same seed) | best FID | IS | KID "
        + "".join(f"| {name} " for name in extra)
        + "| G_ema abs(gamma) | D abs(gamma) | paper, ImageNet 128 |",
        "|---" * (11 + len(extra)) + "|",
    ]
    for arm in arms:
        row = summary[arm]
        paired = paired_fid_difference(summary, arm, reference)
        lines.append(
            f"| {arm} | {CONFIG.ARMS[arm].description} | {row['seeds']} | "
            f"{mean_std(row['fid'], 1)} | "
            f"{'reference' if arm == reference else mean_std(paired, 1) if len(paired) else ''} | "
            f"{mean_std(row['best_fid'], 1)} | "
            f"{mean_std(row['is'], 2)} | {mean_std(row['kid'], 1)} | "
            + "".join(f"{metric_cell(row[name], EXTRA_METRICS[name])} | " for name in extra)
            + f"{gamma_cell(row['g_gamma'])} | {gamma_cell(row['d_gamma'])} | "
            f"{CONFIG.STUDIES[study][arm]} |"
        )
    lines += paired_lines(summary, arms, reference)
    path.with_suffix(".md").write_text("\n".join(lines) + "\n")
    with open(path.with_suffix(".csv"), "w", newline="") as file:
        writer = csv.writer(file)
        names = ("fid", "fid_minus_reference", "best_fid", "is", "kid", *extra)
        names += tuple(GAMMA_SLOTS.values())
        writer.writerow(
            ["arm", "seeds", "reference"] + [f"{n}_{s}" for n in names for s in ("mean", "std")]
        )
        for arm in arms:
            values = {
                **{n: summary[arm][n] for n in names if n in summary[arm]},
                "fid_minus_reference": paired_fid_difference(summary, arm, reference),
            }
            cells = [
                v
                for n in names
                for v in (
                    np.nanmean(values[n]) if np.any(~np.isnan(values[n])) else float("nan"),
                    np.nanstd(values[n], ddof=1)
                    if np.sum(~np.isnan(values[n])) > 1
                    else float("nan"),
                )
            ]
            writer.writerow([arm, summary[arm]["seeds"], reference, *cells])


def paired_lines(summary: dict, arms: list[str], reference: str) -> list[str]:
    """Markdown: each arm's per-seed FID - reference, their spread s_d, and what n seeds detect.

    A paired difference is told from zero (about 95%, normal approximation) when it exceeds
    2 s_d / sqrt(n); a difference D then needs n >= (2 s_d / D)^2 seeds at this budget.
    """
    lines = [
        "",
        f"Paired differences d = FID(arm) - FID({reference}), same seed; s_d: their sample "
        "standard deviation; detectable: 2 s_d / sqrt(n), the smallest mean difference these n "
        "seeds tell from zero (about 95%); seeds for 3 FID: (2 s_d / 3)^2, the seeds this "
        "budget would need to detect the papers' ~3 FID gap.",
        "",
        "| arm | d per seed | mean d | s_d | n | detectable | seeds for 3 FID |",
        "|---|---|---|---|---|---|---|",
    ]
    for arm in arms[1:]:
        paired = paired_fid_difference(summary, arm, reference)
        if len(paired) < 2:
            continue
        lines.append(
            f"| {arm} | {', '.join(f'{d:+.1f}' for d in paired)} | {paired.mean():+.1f} | "
            f"{paired.std(ddof=1):.1f} | {len(paired)} | {detectable_difference(paired):.1f} | "
            f"{seeds_to_detect(paired, 3.0)} |"
        )
    return lines


def plot_fid(path: Path, study: str, summary: dict) -> None:
    """FID against training step per arm (log scale): mean over seeds, band of one std."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5))
    arms = [arm for arm in CONFIG.STUDIES[study] if arm in summary]
    colours = plt.get_cmap("tab20")(np.linspace(0, 1, 20))[:: 2 if len(arms) <= 10 else 1]
    for arm, colour in zip(arms, colours, strict=False):
        row = summary[arm]
        mean, std = row["fid_curves"].mean(0), row["fid_curves"].std(0)
        axes.plot(row["steps"], mean, marker="o", color=colour, label=f"{arm} ({row['seeds']})")
        axes.fill_between(row["steps"], mean - std, mean + std, color=colour, alpha=0.12)
    axes.set_yscale("log")
    axes.set(xlabel="training step", ylabel="FID (EMA G, digits classifier)", title=study)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7, ncol=2)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write_runs_csv(path: Path, root: Path, arms: list[str], seeds: int) -> None:
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        columns = [*METRICS, *EXTRA_METRICS, "num_generated"]
        writer.writerow(["arm", "seed", "step", *columns, "protocol", *GAMMA_SLOTS.values()])
        for arm in arms:
            for seed in range(seeds):
                workdir = run_dir(root, arm, seed)
                for e in RunDirectory(workdir).training_scores():
                    gammas = attention_gammas(workdir, e["step"]).values()
                    scores = ["" if e.get(name) is None else e[name] for name in columns]
                    protocol = (e.get("protocol") or {}).get("name", "")
                    row = [arm, seed, e["step"], *scores, protocol]
                    writer.writerow(row + [f"{g:.5f}" if g == g else "" for g in gammas])


def width_note() -> str:
    """The study's widths and the query/key channels each of 8 heads gets from them."""
    model = CONFIG.get_config("arm=ylg").model
    channels = generator_plan(32, model.generator.base_channels)[0][0]  # 32x32: 4 x base everywhere
    return (
        f"G and D base width {model.generator.base_channels}: the attention layers see {channels} "
        f"channels, so each of 8 heads has {channels} / 8 / 8 = {channels // 64} query/key "
        f"channel(s) (the paper: 4, i.e. base width 64)"
    )


def report(
    root: Path, results: Path, studies: list[str], seeds: int, budget: dict, only: list[str]
) -> None:
    results.mkdir(parents=True, exist_ok=True)
    arms = study_arms(studies, only)
    summary = summarize(root, arms, seeds, budget["steps"])
    protocol = next(iter(summary.values()))["protocol"] if summary else None
    for study in studies:
        flags_ = [f"--studies={study}"] + ([f"--arms={','.join(only)}"] if only else [])
        flags_ += [f"--seeds={seeds}"] + [f"--{key}={value}" for key, value in budget.items()]
        header = (
            f"# Ablation `{study}`\n\n"
            f"`python experiments/ablation.py {' '.join(flags_)}`\n\n"
            f"Budget per run: {budget['steps']} steps at batch {budget['batch_size']} on "
            f"`{budget['dataset']}` at 32x32 ({width_note()}; EMA 0.99), "
            f"seeds 0..{seeds - 1}; initial weights seeded per (seed, weight path), so arms "
            f"of one seed start from bit-identical weights wherever their layers agree. "
            f"FID / IS / KID of the EMA generator with {budget['eval_samples']} real and "
            f"generated images ({describe_protocol(protocol)}), and where recorded precision / "
            f"recall / density / coverage on the same features, intra-class FID and the digits "
            f"judge's accuracy; mean ± standard deviation over seeds. "
            f"FID and IS columns: last step; best FID: lowest over the evaluations every "
            f"{budget['eval_every']} steps; abs(gamma): the largest |gamma| of the model's "
            f"attention layers in the last checkpoint (gamma starts at 0, so it says how much "
            f"attention reaches the scored features)."
        )
        if not any(arm in summary for arm in CONFIG.STUDIES[study]):
            print(f"{study}: no finished runs to report.")
            continue
        write_study_table(results / study, study, summary, header)
        if summary:
            plot_fid(results / f"{study}_fid.png", study, summary)
    write_runs_csv(results / "runs.csv", root, arms, seeds)
    print(f"Reports in {results}")


def run_all(todo: list[tuple[str, int]], root: Path, budget: dict, parallel: int) -> list[str]:
    """Trains the (arm, seed) runs, `parallel` at a time; returns the failures' messages.

    Small models leave cores idle (start-up, tracing, evaluation), which a second run at the same
    time can use.
    """

    def one(k_arm_seed):
        k, (arm, seed) = k_arm_seed
        try:
            seconds = train(arm, seed, root, budget)
        except RuntimeError as error:
            print(f"[{k}/{len(todo)}] {arm} seed {seed}: FAILED", flush=True)
            return str(error)
        last = RunDirectory(run_dir(root, arm, seed)).training_scores()[-1]
        print(
            f"[{k}/{len(todo)}] {arm} seed {seed}: {seconds:.0f} s, FID {last['fid']:.1f}, "
            f"IS {last['is']:.2f}",
            flush=True,
        )
        return None

    with ThreadPoolExecutor(max_workers=parallel) as pool:
        return [error for error in pool.map(one, enumerate(todo, 1)) if error]


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    root, results = Path(_ROOT.value), Path(_RESULTS.value)
    budget = {
        "steps": _STEPS.value,
        "eval_every": _EVAL_EVERY.value,
        "eval_samples": _EVAL_SAMPLES.value,
        "batch_size": _BATCH_SIZE.value,
        "dataset": _DATASET.value,
    }
    arms = study_arms(_STUDIES.value, _ARMS.value)
    failures = []
    if not _REPORT_ONLY.value:
        todo = [  # seed-major: stopping early leaves every arm with the same seeds
            (arm, seed)
            for seed in range(_SEEDS.value)
            for arm in arms
            if not final_eval(run_dir(root, arm, seed), _STEPS.value).exists()
        ]
        done = len(arms) * _SEEDS.value - len(todo)
        print(f"{len(arms)} arms x {_SEEDS.value} seeds: {done} done, {len(todo)} to run.")
        failures = run_all(todo, root, budget, _PARALLEL.value)
    report(root, results, _STUDIES.value, _SEEDS.value, budget, _ARMS.value)
    if failures:
        raise SystemExit("\n".join(["Some runs failed:", *failures]))


if __name__ == "__main__":
    app.run(main)
