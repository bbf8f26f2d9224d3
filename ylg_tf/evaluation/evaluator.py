"""The evaluator: streams real and generated images through a classifier and scores them.

Images go through the classifier batch by batch (neither set is ever held as images); the real
set's statistics (mean and covariance of the activations, the activations and labels themselves
for KID, PRDC and intra-class FID, and its Inception score as a reference) are computed once and
cached as `.npz` per dataset, split, resolution, classifier, protocol and sample count. Every
score is returned and written with its protocol record (`protocols.py`): backbone and weights,
resize, reference data and both sample counts.

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

import keras
import ml_collections
import numpy as np
import tensorflow as tf
from absl import logging

from ylg_tf.data import build_dataset
from ylg_tf.evaluation.classifiers import Classifier, inception_classifier, resolve_classifier_spec
from ylg_tf.evaluation.digits_classifier import digits_classifier
from ylg_tf.evaluation.judge import DigitsJudge
from ylg_tf.evaluation.metrics import (
    activation_moments,
    classifier_score_from_logits,
    fid_infinity,
    frechet_distance_from_moments,
    intra_class_frechet_distance,
    kernel_classifier_distance_and_std_from_activations,
)
from ylg_tf.evaluation.prdc import precision_recall_density_coverage
from ylg_tf.evaluation.protocols import Protocol, protocol_record, resolve_protocol
from ylg_tf.evaluation.settings import eval_settings
from ylg_tf.runs import files
from ylg_tf.runs.directory import RunDirectory
from ylg_tf.sampling.truncation import truncated_normal

__all__ = [
    "Evaluator",
    "RealStatistics",
    "default_cache_dir",
    "load_classifier",
    "make_evaluator",
    "score_scalars",
    "write_score_summaries",
    "write_scores",
]

CACHE_VERSION = 2  # 2: real labels cached, protocol in the key
KID_SHUFFLE_SEED = 0
#: Scores that TensorBoard shows (`eval/<name>`), when a score file holds them.
SCALARS = (
    "fid",
    "is",
    "kid",
    "precision",
    "recall",
    "density",
    "coverage",
    "intra_fid",
    "fid_infinity",
    "judge_accuracy",
)


@dataclasses.dataclass(frozen=True)
class RealStatistics:
    """What the metrics need of the real set.

    Attributes:
      mean: float64 `[d]` mean activation.
      cov: float64 `[d, d]` covariance (n - 1 normalization).
      activations: float32 `[n, d]` activations, in the dataset's order (KID, PRDC, intra-FID).
      labels: int64 `[n]` class of each image (intra-class FID).
      inception_score: the classifier score of the real images (a reference for IS).
      num_samples: n, the number of real images.
      path: the cache file, when there is one.
    """

    mean: np.ndarray
    cov: np.ndarray
    activations: np.ndarray
    labels: np.ndarray
    inception_score: float
    num_samples: int
    path: str | Path | None = None


@dataclasses.dataclass(frozen=True)
class _Outputs:
    """One set's classifier outputs: logits, activations, labels (or None), judged classes."""

    logits: np.ndarray
    activations: np.ndarray
    labels: np.ndarray | None
    judged: np.ndarray | None


class Evaluator:
    """FID, IS, KID, PRDC, intra-class FID, FID-infinity and the digits judge's accuracy of
    generated images against one real dataset, with one classifier and its protocol.

    Args:
      classifier: a `ylg_tf.evaluation.Classifier` (`load_classifier("digits", cache_dir)`); its
        `protocol` (resize) is part of every score's protocol record.
      dataset: dataset name as in `ylg_tf.data.build_dataset`.
      resolution: image side of the real images (the generator's output size).
      split: dataset split of the real images.
      num_samples: real images to use (at most the split's size) and generated images to make.
      batch_size: images per generator / classifier call.
      cache_dir: where the real statistics are cached (`real_stats/`); None disables the cache.
      kid_block_size: KID's `max_block_size` (TF-GAN's default 1024).
      prdc_nearest_k: k of precision / recall / density / coverage; 0 leaves them out.
      intra_fid: score the intra-class FID of labelled generated images (conditional models).
      fid_infinity: also extrapolate FID to infinitely many samples (15 more FIDs: slower).
      judge: a `DigitsJudge` whose accuracy on labelled generated digits is scored, or None.
      data_dir, manual_dir: as in `build_dataset`.

    Example:
      >>> evaluator = Evaluator(load_classifier("digits", "runs/.ylg_cache"), "digits", 32)
      >>> scores = evaluator.evaluate_generator(generator, num_classes=10)
      >>> scores["fid"], scores["precision"], scores["protocol"]["name"]
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
        prdc_nearest_k: int = 5,
        intra_fid: bool = True,
        fid_infinity: bool = False,
        judge: DigitsJudge | None = None,
        data_dir: str | None = None,
        manual_dir: str | None = None,
    ) -> None:
        for name, value, least in (
            ("num_samples", num_samples, 2),
            ("batch_size", batch_size, 1),
            ("kid_block_size", kid_block_size, 2),
            ("prdc_nearest_k", prdc_nearest_k, 0),
        ):
            _check_integer(name, value, least)
        self.classifier = classifier
        self.dataset = dataset
        self.resolution = resolution
        self.split = split
        self.num_samples = num_samples
        self.batch_size = batch_size
        self.cache_dir = files.as_path(cache_dir) if cache_dir is not None else None
        self.kid_block_size = kid_block_size
        self.prdc_nearest_k = prdc_nearest_k
        self.intra_fid = intra_fid
        self.fid_infinity = fid_infinity
        self.judge = judge
        self.data_dir = data_dir
        self.manual_dir = manual_dir
        self._real: RealStatistics | None = None

    # --- classifier outputs -------------------------------------------------------------------

    def activations(self, batches: Iterable) -> tuple[np.ndarray, np.ndarray]:
        """Streams image batches (`[B, r, r, 3]` in [-1, 1], or `(images, labels)` pairs)
        through the classifier -> `(logits [N, classes], activations [N, d])` float32."""
        outputs = self._outputs(batches, judge=False)
        return outputs.logits, outputs.activations

    def _outputs(self, batches: Iterable, judge: bool) -> _Outputs:
        """Classifier outputs of image batches, with their labels when the batches are
        `(images, labels)` pairs, and the judge's classes when `judge` and there is one."""
        logits, activations, labels, judged = [], [], [], []
        for batch in batches:
            images = batch[0] if isinstance(batch, tuple | list) else batch
            batch_logits, batch_activations = self.classifier(images)
            logits.append(batch_logits)
            activations.append(batch_activations)
            if isinstance(batch, tuple | list):
                labels.append(np.asarray(batch[1]).astype(np.int64).reshape(-1))
                if judge and self.judge is not None:
                    judged.append(self.judge.predict(np.asarray(images)))
        if not logits:
            raise ValueError("No images to evaluate.")
        return _Outputs(
            np.concatenate(logits),
            np.concatenate(activations),
            np.concatenate(labels) if len(labels) == len(logits) else None,
            np.concatenate(judged) if judged else None,
        )

    @property
    def protocol(self) -> Protocol:
        """The classifier's metric protocol (`tfgan`, `clean`, `digits`, ...)."""
        return self.classifier.protocol

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
            "protocol": dataclasses.asdict(self.protocol),
            "num_samples": self.num_samples,
        }
        digest = hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:8]
        name = re.sub(r"[^A-Za-z0-9.-]+", "_", self.dataset)[:40]
        split = re.sub(r"[^A-Za-z0-9.-]+", "_", self.split)[:20]
        stem = f"{name}-{split}-r{self.resolution}-n{self.num_samples}"
        name = f"{stem}-{self.classifier.fingerprint}-{self.protocol.name}-{digest}.npz"
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
                labels=data["labels"],
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
        outputs = self._outputs(batches.as_numpy_iterator(), judge=False)
        mean, cov = activation_moments(outputs.activations)
        count = len(outputs.activations)
        real = RealStatistics(
            mean=mean,
            cov=cov,
            activations=outputs.activations,
            labels=outputs.labels if outputs.labels is not None else np.zeros(count, np.int64),
            inception_score=classifier_score_from_logits(outputs.logits),
            num_samples=count,
        )
        if path is not None:
            files.save_npz(
                path,
                mean=real.mean,
                cov=real.cov,
                activations=real.activations,
                labels=real.labels,
                inception_score=np.float64(real.inception_score),
                num_samples=np.int64(real.num_samples),
                classifier=np.str_(self.classifier.name),
            )
            real = dataclasses.replace(real, path=path)
            logging.info("Cached the real statistics of %d images in %s.", count, path)
        self._real = real
        return real

    # --- scores -------------------------------------------------------------------------------

    def scores(
        self,
        logits: np.ndarray,
        activations: np.ndarray,
        labels: np.ndarray | None = None,
        judged: np.ndarray | None = None,
    ) -> dict:
        """Every score of generated-image classifier outputs against the real set.

        Args:
          logits, activations: the generated images' classifier outputs.
          labels: the class each image was generated for (intra-class FID, the judge), or None.
          judged: the class the judge recognised in each image, or None.

        Returns:
          `fid`, `is`, `kid`, `kid_std`; `precision`, `recall`, `density`, `coverage` (with
          `prdc_nearest_k` > 0); `intra_fid` and `intra_fid_per_class` (labels of more than one
          class; null with `intra_fid_skipped` saying why when a class has under 2 samples);
          `fid_infinity`, `fid_infinity_slope`, `fid_infinity_points` (when enabled);
          `judge_accuracy` and `judge` (with a judge and labels); the sample counts and the
          `protocol` record.
        """
        real = self.real_statistics()
        mean, cov = activation_moments(activations)
        order = np.random.default_rng(KID_SHUFFLE_SEED).permutation(real.num_samples)
        kid, kid_std = kernel_classifier_distance_and_std_from_activations(
            real.activations[order], activations, max_block_size=self.kid_block_size
        )
        scores = {
            "fid": frechet_distance_from_moments(real.mean, real.cov, mean, cov),
            "is": classifier_score_from_logits(logits),
            "kid": kid,
            "kid_std": kid_std,
        }
        if self.prdc_nearest_k:
            scores.update(
                precision_recall_density_coverage(
                    real.activations, activations, nearest_k=self.prdc_nearest_k
                ),
                prdc_nearest_k=self.prdc_nearest_k,
            )
        if self.intra_fid and labels is not None and len(np.unique(labels)) > 1:
            scores.update(self._intra_fid(real, activations, labels))
        if self.fid_infinity:
            extrapolated = fid_infinity(real.activations, activations)
            scores.update(
                fid_infinity=extrapolated["fid_infinity"],
                fid_infinity_slope=extrapolated["slope"],
                fid_infinity_points=extrapolated["points"],
            )
        if judged is not None and labels is not None:
            scores.update(
                judge_accuracy=float(np.mean(judged == labels)), judge=self.judge.describe()
            )
        scores.update(
            num_real=real.num_samples,
            num_generated=int(len(activations)),
            real_is=real.inception_score,
            classifier=self.classifier.name,
            classifier_fingerprint=self.classifier.fingerprint,
            dataset=self.dataset,
            split=self.split,
            resolution=self.resolution,
            kid_block_size=self.kid_block_size,
            protocol=protocol_record(
                self.classifier,
                dataset=self.dataset,
                split=self.split,
                resolution=self.resolution,
                num_real=real.num_samples,
                num_generated=len(activations),
                features=activations.shape[1],
            ),
        )
        return scores

    @staticmethod
    def _intra_fid(real: RealStatistics, activations: np.ndarray, labels: np.ndarray) -> dict:
        """Intra-class FID, or null with the reason when some class is too small for it."""
        try:
            result = intra_class_frechet_distance(
                real.activations, real.labels, activations, labels
            )
        except ValueError as error:
            logging.warning("No intra-class FID: %s", error)
            return {"intra_fid": None, "intra_fid_skipped": str(error)}
        return {
            "intra_fid": result["mean"],
            "intra_fid_per_class": {str(c): fid for c, fid in result["per_class"].items()},
        }

    def evaluate_images(self, batches: Iterable) -> dict:
        """Scores of images given as batches (`[B, r, r, 3]` in [-1, 1]), or as
        `(images, labels)` pairs with the class each image was made for."""
        outputs = self._outputs(batches, judge=True)
        return self.scores(outputs.logits, outputs.activations, outputs.labels, outputs.judged)

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
          num_samples: generated images, an integer >= 2 (None: `self.num_samples`).
        """
        count = self.num_samples if num_samples is None else num_samples
        _check_integer("num_samples", count, 2)
        z_dim = z_dim or generator.z_dim
        z = truncated_normal((count, z_dim), truncation, seed=seed)
        labels = np.random.default_rng(seed).permutation(np.arange(count) % num_classes)
        labels = labels.astype(np.int32)

        def batches():
            for start in range(0, count, self.batch_size):
                stop = min(start + self.batch_size, count)
                images = generator((z[start:stop], labels[start:stop]), training=False)
                yield keras.ops.convert_to_numpy(images), labels[start:stop]  # any backend

        scores = self.evaluate_images(batches())
        scores.update(truncation=truncation, seed=seed)
        return scores


def _check_integer(name: str, value, least: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < least:
        raise ValueError(f"{name}={value!r}; expected an integer >= {least}.")


def default_cache_dir(workdir) -> str | Path:
    """The evaluation cache shared by the runs next to `workdir`: `<workdir>/../.ylg_cache`."""
    return RunDirectory(workdir).default_cache


def load_classifier(
    spec: str, cache_dir, dataset: str = "digits", protocol: str = "auto"
) -> Classifier:
    """The classifier of a spec, trained or downloaded into `cache_dir` once.

    Args:
      spec: `"auto"`, `"digits"`, `"inception"` or `"inception:<dir | .tar.gz | URL>"`.
      cache_dir: the evaluation cache (WORKSPACE.md): `classifiers/digits/`, `tfhub/<sha1>/`.
      dataset: the dataset being evaluated, for `"auto"`.
      protocol: `"auto"`, `"tfgan"`, `"clean"` or `"digits"` (`protocols.py`).
    """
    spec = resolve_classifier_spec(spec, dataset)
    resolved = resolve_protocol(protocol, spec)
    if spec == "digits":
        return digits_classifier(files.join(cache_dir, "classifiers", "digits"), protocol=resolved)
    return inception_classifier(spec, cache_dir, protocol=resolved)


def make_evaluator(
    config: ml_collections.ConfigDict,
    workdir: str | Path,
    *,
    num_samples: int | None = None,
    classifier: str | None = None,
    protocol: str | None = None,
    cache_dir: str | Path | None = None,
    batch_size: int | None = None,
) -> Evaluator:
    """The evaluator of a run config (`config.data`, `config.eval`), arguments overriding it.

    A config without an `eval` section (runs from before it existed) gets the defaults. The
    digits judge is fitted when `config.eval.judge` and the data is the embedded digits (away
    from the GAN's split when that is not all of them).
    """
    settings = eval_settings(config)
    cache_dir = cache_dir or settings.cache_dir or default_cache_dir(workdir)
    spec = resolve_classifier_spec(classifier or settings.classifier, config.data.name)
    split = config.data.split
    judge = None
    if settings.judge and config.data.name == "digits":
        judge = DigitsJudge.fit(exclude_split=None if split == "train" else split)
    return Evaluator(
        load_classifier(spec, cache_dir, config.data.name, protocol or settings.protocol),
        config.data.name,
        config.data.resolution,
        split=split,
        num_samples=settings.num_samples if num_samples is None else num_samples,
        batch_size=settings.batch_size if batch_size is None else batch_size,
        cache_dir=cache_dir,
        kid_block_size=settings.kid_block_size,
        prdc_nearest_k=settings.prdc_nearest_k,
        intra_fid=settings.intra_fid,
        fid_infinity=settings.fid_infinity,
        judge=judge,
        data_dir=config.data.data_dir or None,
        manual_dir=config.data.manual_dir or None,
    )


def score_scalars(scores: dict) -> dict[str, float]:
    """The scores TensorBoard shows (`SCALARS` that the dict holds and are not null)."""
    return {name: scores[name] for name in SCALARS if scores.get(name) is not None}


def write_score_summaries(writer, step: int, scores: dict) -> None:
    """`eval/<score>` scalars, each described by the protocol record, and `eval/protocol` text."""
    protocol = json.dumps(_json_safe(scores.get("protocol")), sort_keys=True)
    with writer.as_default(step=step):
        for name, value in score_scalars(scores).items():
            tf.summary.scalar(f"eval/{name}", value, description=f"protocol: {protocol}")
        tf.summary.text("eval/protocol", protocol)


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
