"""The evaluator: streams real and generated images through a classifier and scores them.

Images go through the classifier batch by batch (neither set is ever held as images); the real
set's statistics (mean and covariance of the activations, the activations themselves for KID,
and its Inception score as a reference) are computed once and cached as `.npz` per dataset, split,
resolution, classifier and sample count. Every score is returned and written together with the
number of real and generated samples it used.

The real set is the first `num_samples` examples of the split in the dataset's fixed order (all of
them when the split is smaller); generated samples have balanced class labels in a random order
and latents from `truncated_normal` (untruncated by default), both drawn from `seed`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
from collections.abc import Iterable
from pathlib import Path

import ml_collections
import numpy as np
import tensorflow as tf
from absl import logging

from ylg_tf.data import build_dataset
from ylg_tf.evaluation.classifiers import Classifier, inception_classifier, resolve_classifier_spec
from ylg_tf.evaluation.digits_classifier import digits_classifier
from ylg_tf.evaluation.metrics import (
    activation_moments,
    classifier_score_from_logits,
    frechet_distance_from_moments,
    kernel_classifier_distance_and_std_from_activations,
)
from ylg_tf.runs import files
from ylg_tf.runs.config import default_config
from ylg_tf.runs.directory import RunDirectory
from ylg_tf.sampling.truncation import truncated_normal

__all__ = [
    "Evaluator",
    "RealStatistics",
    "default_cache_dir",
    "load_classifier",
    "make_evaluator",
    "write_scores",
]

CACHE_VERSION = 1
KID_SHUFFLE_SEED = 0


@dataclasses.dataclass(frozen=True)
class RealStatistics:
    """What the metrics need of the real set.

    Attributes:
      mean: float64 `[d]` mean activation.
      cov: float64 `[d, d]` covariance (n - 1 normalization).
      activations: float32 `[n, d]` activations, in the dataset's order (for KID).
      inception_score: the classifier score of the real images (a reference for IS).
      num_samples: n, the number of real images.
      path: the cache file, when there is one.
    """

    mean: np.ndarray
    cov: np.ndarray
    activations: np.ndarray
    inception_score: float
    num_samples: int
    path: str | Path | None = None


class Evaluator:
    """FID, IS and KID of generated images against one real dataset, with one classifier.

    Args:
      classifier: a `ylg_tf.evaluation.Classifier` (`load_classifier("digits", cache_dir)`).
      dataset: dataset name as in `ylg_tf.data.build_dataset`.
      resolution: image side of the real images (the generator's output size).
      split: dataset split of the real images.
      num_samples: real images to use (at most the split's size) and generated images to make.
      batch_size: images per generator / classifier call.
      cache_dir: where the real statistics are cached (`real_stats/`); None disables the cache.
      kid_block_size: KID's `max_block_size` (TF-GAN's default 1024).
      data_dir, manual_dir: as in `build_dataset`.

    Example:
      >>> evaluator = Evaluator(load_classifier("digits", "runs/.ylg_cache"), "digits", 32)
      >>> scores = evaluator.evaluate_generator(generator, num_classes=10)
      >>> scores["fid"], scores["num_real"], scores["num_generated"]
    """

    def __init__(
        self,
        classifier: Classifier,
        dataset: str,
        resolution: int,
        *,
        split: str = "train",
        num_samples: int = 1000,
        batch_size: int = 100,
        cache_dir: str | Path | None = None,
        kid_block_size: int = 1024,
        data_dir: str | None = None,
        manual_dir: str | None = None,
    ) -> None:
        for name, value, least in (
            ("num_samples", num_samples, 2),
            ("batch_size", batch_size, 1),
            ("kid_block_size", kid_block_size, 2),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"{name}={value!r}; expected an integer >= {least}.")
        self.classifier = classifier
        self.dataset = dataset
        self.resolution = resolution
        self.split = split
        self.num_samples = num_samples
        self.batch_size = batch_size
        self.cache_dir = files.as_path(cache_dir) if cache_dir is not None else None
        self.kid_block_size = kid_block_size
        self.data_dir = data_dir
        self.manual_dir = manual_dir
        self._real: RealStatistics | None = None

    # --- classifier outputs -------------------------------------------------------------------

    def activations(self, batches: Iterable) -> tuple[np.ndarray, np.ndarray]:
        """Streams image batches (`[B, r, r, 3]` in [-1, 1], or `(images, labels)` pairs)
        through the classifier -> `(logits [N, classes], activations [N, d])` float32."""
        logits, activations = [], []
        for batch in batches:
            images = batch[0] if isinstance(batch, tuple | list) else batch
            batch_logits, batch_activations = self.classifier(images)
            logits.append(batch_logits)
            activations.append(batch_activations)
        if not logits:
            raise ValueError("No images to evaluate.")
        return np.concatenate(logits), np.concatenate(activations)

    # --- the real set -------------------------------------------------------------------------

    @property
    def cache_path(self) -> str | Path | None:
        """The `.npz` of this evaluator's real statistics (None without a cache directory)."""
        if self.cache_dir is None:
            return None
        key = {
            "version": CACHE_VERSION,
            "dataset": self.dataset,
            "split": self.split,
            "resolution": self.resolution,
            "classifier": self.classifier.fingerprint,
            "num_samples": self.num_samples,
        }
        digest = hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:8]
        name = re.sub(r"[^A-Za-z0-9.-]+", "_", self.dataset)[:40]
        split = re.sub(r"[^A-Za-z0-9.-]+", "_", self.split)[:20]
        stem = f"{name}-{split}-r{self.resolution}-n{self.num_samples}"
        name = f"{stem}-{self.classifier.fingerprint}-{digest}.npz"
        return files.as_path(files.join(self.cache_dir, "real_stats", name))

    def real_statistics(self) -> RealStatistics:
        """The real set's statistics, from the cache or computed (and cached) once."""
        if self._real is not None:
            return self._real
        path = self.cache_path
        if path is not None and files.exists(path):
            data = files.load_npz(path)
            self._real = RealStatistics(
                mean=data["mean"],
                cov=data["cov"],
                activations=data["activations"],
                inception_score=float(data["inception_score"]),
                num_samples=int(data["num_samples"]),
                path=path,
            )
            return self._real
        dataset, _ = build_dataset(
            self.dataset,
            self.resolution,
            self.split,
            data_dir=self.data_dir,
            manual_dir=self.manual_dir,
        )
        batches = dataset.take(self.num_samples).batch(self.batch_size)
        logits, activations = self.activations(batches.as_numpy_iterator())
        mean, cov = activation_moments(activations)
        real = RealStatistics(
            mean=mean,
            cov=cov,
            activations=activations,
            inception_score=classifier_score_from_logits(logits),
            num_samples=len(activations),
        )
        if path is not None:
            files.save_npz(
                path,
                mean=real.mean,
                cov=real.cov,
                activations=real.activations,
                inception_score=np.float64(real.inception_score),
                num_samples=np.int64(real.num_samples),
                classifier=np.str_(self.classifier.name),
            )
            real = dataclasses.replace(real, path=path)
            logging.info("Cached the real statistics of %d images in %s.", len(activations), path)
        self._real = real
        return real

    # --- scores -------------------------------------------------------------------------------

    def scores(self, logits: np.ndarray, activations: np.ndarray) -> dict:
        """FID, IS and KID of generated-image classifier outputs against the real set."""
        real = self.real_statistics()
        mean, cov = activation_moments(activations)
        order = np.random.default_rng(KID_SHUFFLE_SEED).permutation(real.num_samples)
        kid, kid_std = kernel_classifier_distance_and_std_from_activations(
            real.activations[order], activations, max_block_size=self.kid_block_size
        )
        return {
            "fid": frechet_distance_from_moments(real.mean, real.cov, mean, cov),
            "is": classifier_score_from_logits(logits),
            "kid": kid,
            "kid_std": kid_std,
            "num_real": real.num_samples,
            "num_generated": int(len(activations)),
            "real_is": real.inception_score,
            "classifier": self.classifier.name,
            "classifier_fingerprint": self.classifier.fingerprint,
            "dataset": self.dataset,
            "split": self.split,
            "resolution": self.resolution,
            "kid_block_size": self.kid_block_size,
        }

    def evaluate_images(self, batches: Iterable) -> dict:
        """Scores of images given as batches (`[B, r, r, 3]` in [-1, 1])."""
        return self.scores(*self.activations(batches))

    def evaluate_generator(
        self,
        generator,
        num_classes: int,
        *,
        z_dim: int | None = None,
        truncation: float | None = None,
        seed: int = 0,
        num_samples: int | None = None,
    ) -> dict:
        """Scores of `num_samples` (default: the evaluator's) images of a generator.

        Args:
          generator: called as `generator((z, labels), training=False)` -> images in [-1, 1].
          num_classes: labels are balanced over `range(num_classes)`, in a random order.
          z_dim: latent size (default `generator.z_dim`).
          truncation: threshold of the truncated normal latents, None for a plain normal.
          seed: seed of the latents and labels; the same seed gives the same samples.
          num_samples: generated images (default `self.num_samples`).
        """
        count = num_samples or self.num_samples
        z_dim = z_dim or generator.z_dim
        z = truncated_normal((count, z_dim), truncation, seed=seed)
        labels = np.random.default_rng(seed).permutation(np.arange(count) % num_classes)
        labels = tf.constant(labels, tf.int32)

        def batches():
            for start in range(0, count, self.batch_size):
                stop = min(start + self.batch_size, count)
                yield generator((z[start:stop], labels[start:stop]), training=False)

        scores = self.evaluate_images(batches())
        scores.update(truncation=truncation, seed=seed)
        return scores


def default_cache_dir(workdir) -> str | Path:
    """The evaluation cache shared by the runs next to `workdir`: `<workdir>/../.ylg_cache`."""
    return RunDirectory(workdir).default_cache


def load_classifier(spec: str, cache_dir, dataset: str = "digits") -> Classifier:
    """The classifier of a spec, trained or downloaded into `cache_dir` once.

    Args:
      spec: `"auto"`, `"digits"`, `"inception"` or `"inception:<dir | .tar.gz | URL>"`.
      cache_dir: the evaluation cache (WORKSPACE.md): `classifiers/digits/`, `tfhub/<sha1>/`.
      dataset: the dataset being evaluated, for `"auto"`.
    """
    spec = resolve_classifier_spec(spec, dataset)
    if spec == "digits":
        return digits_classifier(files.join(cache_dir, "classifiers", "digits"))
    return inception_classifier(spec, cache_dir)


def make_evaluator(
    config: ml_collections.ConfigDict,
    workdir: str | Path,
    *,
    num_samples: int | None = None,
    classifier: str | None = None,
    cache_dir: str | Path | None = None,
    batch_size: int | None = None,
) -> Evaluator:
    """The evaluator of a run config (`config.data`, `config.eval`), arguments overriding it.

    A config without an `eval` section (runs from before it existed) gets the defaults.
    """
    settings = default_config().eval
    if "eval" in config:
        settings.update(config.eval)
    cache_dir = cache_dir or settings.cache_dir or default_cache_dir(workdir)
    spec = resolve_classifier_spec(classifier or settings.classifier, config.data.name)
    return Evaluator(
        load_classifier(spec, cache_dir, config.data.name),
        config.data.name,
        config.data.resolution,
        split=config.data.split,
        num_samples=num_samples or settings.num_samples,
        batch_size=batch_size or settings.batch_size,
        cache_dir=cache_dir,
        kid_block_size=settings.kid_block_size,
        data_dir=config.data.data_dir or None,
        manual_dir=config.data.manual_dir or None,
    )


def write_scores(path, scores: dict):
    """Writes scores as JSON (NaN, e.g. KID's std of one block, as null), all or nothing."""
    files.write_json(path, _json_safe(scores))
    return files.as_path(path)


def _json_safe(value):
    """NaN / inf -> None and NumPy scalars -> Python numbers, through dicts and lists."""
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
