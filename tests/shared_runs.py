"""The tiny run that tests share, its config, and copies of runs.

Training even a tiny run costs about 15 s (tracing the train step), so one is trained per test
session, by the first pytest-xdist worker that asks for it (`built_once`), and every test that
only reads a run uses it; a test that changes a run works on a copy (`copy_run`).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
from filelock import FileLock

#: The latents and labels of `LIVE_FILE`'s reference outputs.
REFERENCE_Z = np.random.default_rng(0).standard_normal((6, 128)).astype(np.float32)
REFERENCE_LABELS = np.arange(6, dtype=np.int32)
#: What the trainer of the shared run held in memory when it finished, beside the run: every
#: weight of G, D and EMA G by `<slot>/<path>`, and both generators' outputs for the reference
#: latents (`ema_output`, `raw_output`), to check loading against something not loaded.
LIVE_FILE = "live.npz"


def tiny_config(steps: int = 2, **train):
    """A YLG run (digits 32x32, base width 16) small enough to build and train in seconds."""
    from ylg_tf.runs.config import default_config

    config = default_config()
    config.model.generator.base_channels = config.model.discriminator.base_channels = 16
    config.train.update(batch_size=2, steps=steps, log_every=1, sample_every=2)
    config.train.update(checkpoint_every=2, keep_checkpoints=5)
    config.train.update(train)
    return config


def shared_run_config(cache_dir):
    """The shared run: 2 steps with an EMA generator, checkpoints ckpt-1 and ckpt-2, scored
    (12 samples) after each step with the digits classifier of `cache_dir`."""
    config = tiny_config(2, ema_decay=0.9, checkpoint_every=1)
    config.eval.update(every=1, num_samples=12, cache_dir=str(cache_dir))
    return config


def train(workdir, config):
    """Trains `config` in `workdir`; the closed trainer."""
    from ylg_tf.training import GANTrainer, make_strategy

    trainer = GANTrainer(config, make_strategy("default"), workdir)
    try:
        trainer.train()
    finally:
        trainer.close()
    return trainer


def build_shared_run(workdir: Path, cache_dir: Path) -> None:
    """Trains the shared run in `workdir` and writes `LIVE_FILE` beside it."""
    from ylg_tf.runs.loading import model_weights

    trainer = train(workdir, shared_run_config(cache_dir))
    live = {}
    for slot in ("generator", "discriminator", "ema_generator"):
        for path, value in model_weights(getattr(trainer, slot)).items():
            live[f"{slot}/{path}"] = np.asarray(value)
    inputs = (REFERENCE_Z, REFERENCE_LABELS)
    live["ema_output"] = trainer.ema_generator(inputs, training=False).numpy()
    live["raw_output"] = trainer.generator(inputs, training=False).numpy()
    np.savez(workdir.parent / f"{workdir.name}_{LIVE_FILE}", **live)


def live_values(workdir: Path) -> dict[str, np.ndarray]:
    """`LIVE_FILE` of the shared run at `workdir`."""
    with np.load(workdir.parent / f"{workdir.name}_{LIVE_FILE}") as values:
        return dict(values)


def live_weights(live: dict[str, np.ndarray], slot: str) -> dict[str, np.ndarray]:
    """`{path: value}` of one model (`generator`, `discriminator`, `ema_generator`) of `live`."""
    prefix = f"{slot}/"
    return {key[len(prefix) :]: value for key, value in live.items() if key.startswith(prefix)}


def built_once(path: Path, build: Callable[[Path], None]) -> Path:
    """`path`, made by `build(path)` unless an earlier caller (any worker) finished it."""
    done = path.with_name(f"{path.name}.done")
    with FileLock(str(path.with_name(f"{path.name}.lock"))):
        if not done.exists():
            shutil.rmtree(path, ignore_errors=True)  # a build that failed part-way
            build(path)
            done.touch()
    return path


def copy_run(source: Path, target: Path) -> Path:
    """A copy of the run directory `source` at `target` (a test that changes a run)."""
    shutil.copytree(source, target)
    return target
