"""Writes the notebooks of this folder from the cell sources below (nbformat v4, no outputs).

    .venv/bin/python notebooks/build_notebooks.py

Edit the sources here and rebuild rather than editing the .ipynb JSON. Code cells are put through
`ruff format` when ruff is installed next to this interpreter, so the notebooks stay lint-clean
(tests/test_lint.py runs ruff over them). tests/test_notebooks.py executes them headless with
`YLG_NOTEBOOK_SMOKE=1`.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
from nbformat import v4

HERE = Path(__file__).resolve().parent
INSTALL = """
# @title Install ylg_tf (in Colab only; locally this cell does nothing)
# Either type the git URL of your copy of the repository below, or upload the repository as
# /content/ylg_tf.zip (made with `git archive -o ylg_tf.zip HEAD` in a checkout) and run again.
import os
import subprocess
import sys

REPO_URL = ""  # @param {type:"string"}
ARCHIVE = "/content/ylg_tf.zip"
CHECKOUT = "/content/ylg_tf"
if "google.colab" in sys.modules:
    if not os.path.isdir(CHECKOUT):
        if REPO_URL:
            subprocess.run(["git", "clone", "-q", "--depth", "1", REPO_URL, CHECKOUT], check=True)
        elif os.path.isfile(ARCHIVE):
            subprocess.run(["unzip", "-q", ARCHIVE, "-d", CHECKOUT], check=True)
        else:
            raise RuntimeError(
                "ylg_tf is not installed: set REPO_URL in this cell to the git URL of the "
                f"repository, or upload it as {ARCHIVE}, then run the cell again."
            )
        pip = [sys.executable, "-m", "pip", "install", "-q", "-e", CHECKOUT]
        subprocess.run(pip, check=True)
    os.chdir(f"{CHECKOUT}/notebooks")
print("python:", sys.executable)
"""

SETUP = """
# The repository root (for experiments/configs) and where this notebook writes.
import os
from pathlib import Path

from IPython.display import Image, display

ROOT = next(p for p in (Path.cwd(), *Path.cwd().parents) if (p / "experiments").is_dir())
SMOKE = os.environ.get("YLG_NOTEBOOK_SMOKE") == "1"  # tests: tiny sizes, seconds per cell
RUNS = Path(os.environ.get("YLG_NOTEBOOK_RUNS", ROOT / "runs"))
CACHE_DIR = os.environ.get("YLG_CACHE_DIR")  # classifier cache; None: <run>/../.ylg_cache


def show(path):
    \"\"\"Shows a PNG file inline.\"\"\"
    display(Image(filename=str(path)))
"""


def _formatted(source: str) -> str:
    source = textwrap.dedent(source).strip() + "\n"
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        return source.rstrip("\n")
    result = subprocess.run(
        [ruff, "format", "--line-length", "100", "-"],
        input=source,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.rstrip("\n")


def _notebook(cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    notebook = v4.new_notebook()
    notebook.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        "colab": {"provenance": []},
    }
    for kind, source in cells:
        if kind == "md":
            notebook.cells.append(v4.new_markdown_cell(textwrap.dedent(source).strip()))
        else:
            notebook.cells.append(v4.new_code_cell(_formatted(source)))
    for k, cell in enumerate(notebook.cells):  # stable ids: rebuilding changes nothing
        cell.id = f"cell-{k}"
    return notebook


ATTENTION_PATTERNS = [
    (
        "md",
        """
        # YLG's sparse attention patterns

        The masks of each head layout, the grid enumerations of ESA (Enumerate, Shift, Apply),
        the Information Flow Graphs (IFG) and Full Information of the 2-step patterns, and their
        densities (Daras et al., CVPR 2020, supplementary §3, §4, §6). Pure NumPy: no model and
        no TensorFlow. Figures go to `runs/notebooks/attention_patterns/`.
        """,
    ),
    ("code", INSTALL),
    ("code", SETUP),
    (
        "code",
        """
        # Parameters: the demo sizes; YLG_NOTEBOOK_SMOKE=1 shrinks them.
        GRID = 8 if SMOKE else 16  # key grid side of the head masks (16x16 = YLG at 32x32 queries)
        N = 64 if SMOKE else 256  # positions of the density / Full Information table
        IFG_N = 9 if SMOKE else 16  # positions of the IFG figures (small enough to read)
        OUT = RUNS / "notebooks" / "attention_patterns"
        """,
    ),
    (
        "md",
        """
        ## Masks per head

        YLG computes the two steps of RTL and LTR as different heads of one layer:
        `[RTL1, RTL2, RTL1, RTL2, LTR1, LTR2, LTR1, LTR2]`. Each panel shows, on the 2-D key
        grid, the keys that the centre query (framed in red) attends to.
        """,
    ),
    (
        "code",
        """
        from ylg_tf.masks import LAYOUTS, figures
        from ylg_tf.viz import write_head_mask_png

        for layout in (*LAYOUTS, "dense"):
            heads = [f"{name}{step + 1}" for name, step in LAYOUTS.get(layout, [("dense", 0)])]
            print(f"{layout}: {' '.join(heads)}")
            show(write_head_mask_png(OUT / f"heads_{layout}.png", layout, (GRID, GRID)))
        """,
    ),
    (
        "md",
        "With labels, the full `[queries, keys]` mask of every head (queries on the 2x finer "
        "grid of SAGAN's pooled keys):",
    ),
    ("code", 'show(figures.plot_head_masks("ylg", (GRID, GRID), OUT / "heads_ylg_labelled.png"))'),
    (
        "md",
        """
        ## ESA orders

        ESA enumerates the key grid by Manhattan distance from the top-left corner so that 1-D
        neighbours stay 2-D neighbours; the Hilbert curve is the published alternative, row-major
        order is "YLG - no ESA".
        """,
    ),
    (
        "code",
        """
        from ylg_tf.masks import enumerate_grid
        from ylg_tf.viz import write_grid_order_png

        print("ESA order of a 3x3 grid:", [tuple(map(int, cell)) for cell in enumerate_grid(3, 3)])
        show(figures.plot_grid_orders(8, 8, OUT / "orders_8x8.png"))
        show(write_grid_order_png(OUT / f"orders_{GRID}x{GRID}.png", GRID, GRID))
        """,
    ),
    (
        "md",
        """
        ## Information Flow Graphs and Full Information

        A 2-step pattern has Full Information when every input reaches every output through
        V0 -> V1 -> V2. Below: both steps of each pattern, then the IFG edges, then per pattern
        `step 1 | step 2 | paths from input (column) to output (row)` with unreachable pairs in
        red. Sparse Transformers' `strided` pattern lacks Full Information; `strided_fi`, the
        extension YLG-Strided uses, and YLG's `ltr` / `rtl` have it.
        """,
    ),
    (
        "code",
        """
        from ylg_tf.masks import full_information, sparse_pattern
        from ylg_tf.viz import write_ifg_png

        COMPARED = ("strided", "strided_fi", "ltr")
        show(figures.plot_patterns(COMPARED, IFG_N, OUT / f"patterns_n{IFG_N}.png"))
        for name in COMPARED:
            show(figures.plot_ifg(name, IFG_N, OUT / f"ifg_{name}_n{IFG_N}.png"))
            show(write_ifg_png(OUT / f"reachability_{name}_n{IFG_N}.png", name, IFG_N))
        """,
    ),
    (
        "code",
        """
        verdicts = {name: full_information(sparse_pattern(name, N)) for name in COMPARED}
        for name, verdict in verdicts.items():
            print(f"full information {name} n={N}: {'yes' if verdict else 'no'}")
        # Order matters: LTR's step 2 after step 1 reaches everything, the reverse does not.
        reverse = full_information(sparse_pattern("ltr", N)[::-1])
        print(f"full information ltr reversed n={N}: {'yes' if reverse else 'no'}")
        """,
    ),
    (
        "md",
        """
        ## Densities

        Per pattern and step: the share of the `n x n` mask attended, keys per query, Full
        Information and the minimum pair flow (can every pair of inputs send two tokens to every
        pair of outputs?). At n = 256 YLG's steps have the paper's 3.3% / 6.6%.
        """,
    ),
    (
        "code",
        """
        from IPython.display import Markdown

        from ylg_tf.masks import PATTERNS, pattern_summary
        from ylg_tf.masks.report import format_table

        rows = [pattern_summary(name, N) for name in PATTERNS]
        display(Markdown(format_table(rows)))
        """,
    ),
]

QUICKSTART = [
    (
        "md",
        """
        # Quickstart: train, sample, evaluate, export

        Trains YLG on the embedded digits at 32x32 (`experiments/configs/ylg_digits32.py`, no
        download) for a few hundred steps, samples it with the truncation trick, scores it with
        FID / IS / KID (the digits classifier, trained once and cached) and exports a SavedModel.
        The run directory is `runs/quickstart`; re-running resumes from its checkpoints.
        """,
    ),
    ("code", INSTALL),
    ("code", SETUP),
    (
        "code",
        """
        # Parameters: the demo sizes (about 5 minutes on 2 CPU cores);
        # YLG_NOTEBOOK_SMOKE=1 shrinks them.
        STEPS = 2 if SMOKE else 500  # training steps
        EVAL_SAMPLES = 16 if SMOKE else 1000  # real and generated images of FID / IS / KID
        PER_CLASS = 4 if SMOKE else 8  # samples per row of the grids
        WORKDIR = RUNS / ("quickstart_smoke" if SMOKE else "quickstart")
        """,
    ),
    ("md", "## Train"),
    (
        "code",
        """
        from ylg_tf.runs.config import import_file
        from ylg_tf.training import GANTrainer, make_strategy

        digits32 = import_file(ROOT / "experiments" / "configs" / "ylg_digits32.py")
        config = digits32.get_config("runlocal=True" if SMOKE else None)
        config.train.steps = STEPS
        config.train.sample_every = config.train.checkpoint_every = min(STEPS, 250)
        config.eval.every = 0  # scored below instead
        print(config.model)

        trainer = GANTrainer(config, make_strategy("default"), WORKDIR)
        metrics = trainer.train()
        print(f"step {int(trainer.step.numpy())}:", {k: round(v, 3) for k, v in metrics.items()})
        show(sorted((WORKDIR / "samples").glob("step_*.png"))[-1])  # a row per class
        """,
    ),
    (
        "md",
        """
        ## Where one pixel looks

        The generator returns its attention probabilities on request, one map per attention
        layer (this one has one). Per head, the attention of
        one query pixel (framed in red) over the generated image: RTL and LTR heads look at
        different, local sets of keys.
        """,
    ),
    (
        "code",
        """
        import numpy as np

        from ylg_tf.sampling import truncated_normal
        from ylg_tf.viz import write_query_attention_png

        generator = trainer.sampler
        z = truncated_normal((4, generator.z_dim), threshold=1.0, seed=1)
        images, (probs,) = generator(
            (z, np.arange(4, dtype=np.int32)), training=False, return_attention_scores=True
        )
        probs = np.asarray(probs)  # [batch, heads, queries, keys]
        side = int(np.sqrt(probs.shape[2]))
        print("attention", probs.shape, f"queries {side}x{side}")
        query = (side // 2, side // 3)
        show(write_query_attention_png(WORKDIR / "attention.png", images[0], probs[0], query))
        """,
    ),
    (
        "md",
        """
        ## Sample with truncation

        Latents from a normal truncated at t (values beyond |t| redrawn): lower t trades variety
        for fidelity. One grid per threshold (a row per class) and one per class (a row per
        threshold, same latents).
        """,
    ),
    (
        "code",
        """
        from ylg_tf.sampling import sample_run

        z = truncated_normal((1000, 128), threshold=0.5, seed=0)
        print(f"max |z| at t=0.5: {float(np.abs(z).max()):.3f}")
        paths = sample_run(
            WORKDIR, truncations=(0.5, 1.0, 2.0, None), classes=range(4), per_class=PER_CLASS
        )
        for path in paths:
            print(path.name)
        show(next(p for p in paths if "truncation_2" in p.name))
        show(next(p for p in paths if p.name.endswith("class_3.png")))
        """,
    ),
    (
        "md",
        """
        ## Evaluate

        TF-GAN's FID / IS / KID on the EMA generator, with the digits classifier. FID depends on
        the sample size: compare scores of equal sizes only.
        """,
    ),
    (
        "code",
        """
        from ylg_tf.evaluation import evaluate_run

        path, scores = evaluate_run(
            WORKDIR, num_samples=EVAL_SAMPLES, classifier="digits", cache_dir=CACHE_DIR
        )
        print(f"FID {scores['fid']:.1f}  IS {scores['is']:.2f}  KID {scores['kid']:.4f}")
        print(f"({scores['num_real']} real, {scores['num_generated']} generated) -> {path}")
        """,
    ),
    (
        "md",
        """
        ## Export

        A SavedModel in TF Serving's layout with `generate`, `sample` and `attention` signatures;
        here reloaded and called like a server would.
        """,
    ),
    (
        "code",
        """
        import tensorflow as tf

        from ylg_tf.export import export_run
        from ylg_tf.viz import write_image_grid

        export_dir = export_run(WORKDIR, overwrite=True)
        print("exported:", export_dir, sorted(p.name for p in export_dir.iterdir()))
        served = tf.saved_model.load(str(export_dir))
        out = served.signatures["sample"](
            num=tf.constant(8),
            seed=tf.constant(7, tf.int64),
            truncation=tf.constant(0.5),
            labels=tf.constant([3]),
        )
        print({k: tuple(v.shape) for k, v in out.items()})
        served_png = WORKDIR / "served_class_3.png"
        show(write_image_grid(served_png, out["images"].numpy(), columns=8, scale=2))
        """,
    ),
]

INVERSION_DEMO = [
    (
        "md",
        """
        # Inverting a YLG generator

        YLG's inversion finds a latent z whose image G(z) matches a target in the space of the
        discriminator's features D0, each head's loss weighted by the saliency of that head's
        attention on the target (supplementary §1, §2). This notebook trains (or loads) a small
        YLG on the embedded digits, shows the saliency per head of a real digit, inverts it and
        a generated image (whose z is known), and compares the method with its baselines: pixel
        inversion (Bora et al.), saliency-weighted pixels, and unweighted D0 features.
        """,
    ),
    ("code", INSTALL),
    ("code", SETUP),
    (
        "code",
        """
        # Parameters: the demo sizes (README's main job, about 10 minutes to train on 2 CPU cores,
        # then a minute or two per method); YLG_NOTEBOOK_SMOKE=1 shrinks them.
        TRAIN_STEPS = 2 if SMOKE else 1500
        INVERT_STEPS = 3 if SMOKE else 1500  # at most; early stop after PATIENCE flat steps
        RESTARTS = 1 if SMOKE else 4
        PATIENCE = 100
        DEFAULT_RUN = RUNS / ("inversion_smoke" if SMOKE else "ylg_digits32")
        WORKDIR = Path(os.environ.get("YLG_INVERSION_RUN", DEFAULT_RUN))
        """,
    ),
    ("md", "## Train or load the model"),
    (
        "code",
        """
        from ylg_tf.runs.config import import_file
        from ylg_tf.training import GANTrainer, make_strategy

        if not (WORKDIR / "checkpoints").is_dir():  # otherwise: the run there, as trained
            digits32 = import_file(ROOT / "experiments" / "configs" / "ylg_digits32.py")
            config = digits32.get_config("runlocal=True" if SMOKE else None)
            config.train.steps = TRAIN_STEPS
            config.train.sample_every = config.train.checkpoint_every = min(TRAIN_STEPS, 250)
            config.eval.every = 0
            GANTrainer(config, make_strategy("default"), WORKDIR).train()
        """,
    ),
    (
        "code",
        """
        from ylg_tf.inversion import load_models

        run, discriminator = load_models(WORKDIR)
        generator = run.generator
        print(f"{run.config.model.variant} at step {run.step} ({'EMA' if run.ema else 'raw'} G)")
        """,
    ),
    (
        "md",
        """
        ## Targets

        A real digit, written as a PNG and read back with `load_target` (which converts any
        image: grayscale, RGBA, another size), and an image the generator made itself.
        """,
    ),
    (
        "code",
        """
        import numpy as np

        from ylg_tf.data import build_dataset
        from ylg_tf.inversion import load_target
        from ylg_tf.sampling import truncated_normal
        from ylg_tf.viz import image_grid, write_png

        resolution = int(run.config.data.resolution)
        dataset, _ = build_dataset("digits", resolution)
        real, real_label = next(iter(dataset.skip(7).as_numpy_iterator()))
        real_uint8 = ((real + 1) * 127.5).round().astype(np.uint8)
        real_png = write_png(RUNS / "notebooks" / "digit.png", real_uint8)
        target, notes = load_target(real_png, resolution)
        print("notes:", notes or "none")

        true_z = truncated_normal((1, generator.z_dim), threshold=1.0, seed=123)
        fake_label = np.array([int(real_label)], np.int32)
        fake = np.asarray(generator((true_z, fake_label), training=False))[0]
        targets = np.stack([target, fake]).astype(np.float32)
        labels = np.array([real_label, real_label], np.int32)
        print("labels:", labels)
        show(write_png(RUNS / "notebooks" / "targets.png", image_grid(targets, 2, scale=4)))
        """,
    ),
    (
        "md",
        """
        ## Saliency per head

        Per discriminator head, how much attention each key position receives from all queries
        of the target, projected to D0's grid (supplementary Fig. 1). These are the weights of
        YLG's loss.
        """,
    ),
    (
        "code",
        """
        from ylg_tf.inversion import saliency_maps
        from ylg_tf.viz import write_saliency_png

        saliency = saliency_maps(discriminator, targets, labels)
        print("saliency", saliency.shape, "sums per head:", saliency[0].sum(axis=(1, 2)).round(3))
        OUT = WORKDIR / "inversion_demo"
        show(write_saliency_png(OUT / "saliency_real.png", targets[0], saliency[0]))
        show(write_saliency_png(OUT / "saliency_generated.png", targets[1], saliency[1]))
        """,
    ),
    (
        "md",
        """
        ## Invert with each method

        Truncated-normal starts (t = 2), Adam (lr 0.05) inside Lookahead (k = 5, alpha = 0.5),
        the restarts optimized together and the best kept. Each method writes its inversion, z,
        loss curve and one PNG per target (`target | inversion | saliency per head`).
        """,
    ),
    (
        "code",
        """
        import time

        from ylg_tf.inversion import METHODS, invert, write_inversion
        from ylg_tf.inversion.quality import d0_distance, psnr, ssim

        compared = [m for m in METHODS if m != "ylg_heads"]  # ylg_heads: YLG on chosen heads
        results, rows = {}, []
        for method in compared:
            start = time.perf_counter()
            result = invert(
                generator, discriminator, targets, labels, method=method, steps=INVERT_STEPS,
                restarts=RESTARTS, patience=PATIENCE, seed=0,
            )
            seconds = time.perf_counter() - start
            results[method] = result
            write_inversion(OUT / method, result, targets, true_z=None)
            rows.append(
                {
                    "method": method,
                    "steps": result.steps_run,
                    "psnr": psnr(result.images, targets),
                    "ssim": ssim(result.images, targets),
                    "d0": d0_distance(discriminator, result.images, targets),
                    "z error": float(np.linalg.norm(result.z[1] - true_z[0])),
                    "seconds": seconds,
                }
            )
            print(f"{method}: {result.steps_run} steps, final loss {result.final_loss.round(4)}")
        """,
    ),
    (
        "code",
        """
        from IPython.display import Markdown

        lines = [
            "| method | steps | PSNR real / generated (dB) | SSIM real / generated "
            "| D0 distance real / generated | z error (generated) | seconds |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in rows:
            lines.append(
                f"| {r['method']} | {r['steps']} | {r['psnr'][0]:.1f} / {r['psnr'][1]:.1f} "
                f"| {r['ssim'][0]:.3f} / {r['ssim'][1]:.3f} | {r['d0'][0]:.4f} / {r['d0'][1]:.4f} "
                f"| {r['z error']:.2f} | {r['seconds']:.0f} |"
            )
        display(Markdown("\\n".join(lines)))
        """,
    ),
    (
        "md",
        """
        Per method, the real target then the generated one: `target | inversion | saliency per
        head`.
        """,
    ),
    (
        "code",
        """
        from ylg_tf.viz import saliency_figure

        for method, result in results.items():
            print(method)
            for k in range(len(targets)):
                figure = saliency_figure([targets[k], result.images[k]], saliency[k], scale=3)
                show(write_png(OUT / method / f"figure_{k}.png", figure))
        """,
    ),
]

NOTEBOOKS = {
    "attention_patterns.ipynb": ATTENTION_PATTERNS,
    "quickstart.ipynb": QUICKSTART,
    "inversion_demo.ipynb": INVERSION_DEMO,
}


def main() -> None:
    for name, cells in NOTEBOOKS.items():
        notebook = _notebook(cells)
        nbformat.validate(notebook)
        nbformat.write(notebook, HERE / name)
        print(f"wrote {HERE / name}")


if __name__ == "__main__":
    main()
