"""An independent judge of class-conditional digit samples: an RBF SVM on the original 8x8 digits.

The project's FID on digits runs the samples through its own small CNN (`digits_classifier.py`),
and a generator can learn what one network likes. The judge shares neither model nor input with
that CNN: a scikit-learn support vector machine on the 64 raw pixels (0..16) of the original
8x8 digits. A generated image is mapped back to 8x8 by least squares against the dataset's own
8x8 -> R x R preprocessing (`ylg_tf.data.preprocess.preprocess_image`, probed on the 64 one-pixel
images), so a real digit makes the round trip exactly; the result is the 8x8 digit whose
upsampling is nearest to the sample. The judge's score of a conditional generator is the fraction
of samples recognised as the class they were generated for; real held-out digits score about 99%,
pure noise about one class in ten.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import tensorflow as tf

from ylg_tf.data.digits import DIGITS_MAX_VALUE, load_digits_arrays, split_slice
from ylg_tf.data.preprocess import preprocess_image

__all__ = ["DigitsJudge", "images_to_digits"]

_SIDE = 8  # the original digits are 8x8
_GAMMA = 0.001  # RBF width for 64 pixels in 0..16 (scikit-learn's digits example); C stays 1
_NUM_CLASSES = 10


@functools.cache
def _inverse_preprocessing(resolution: int) -> np.ndarray:
    """`[64, R * R]` least-squares inverse of the dataset's linear 8x8 -> R x R map.

    `preprocess_image` sends an 8x8 digit x in 0..16 to `2 M x / 16 - 1` (a bilinear resize M,
    then the scaling; its clip never acts on digits in range), so M's columns are read off the
    images of the 64 one-pixel digits, and `pinv(M)` undoes it in float64.
    """
    basis = np.eye(_SIDE * _SIDE).reshape(-1, _SIDE, _SIDE, 1) * DIGITS_MAX_VALUE
    images = (
        tf.data.Dataset.from_tensor_slices(basis)
        .map(lambda pixel: preprocess_image(pixel, resolution, max_value=DIGITS_MAX_VALUE))
        .batch(len(basis))
        .get_single_element()
    )
    upsampling = (images.numpy()[..., 0].astype(np.float64).reshape(len(basis), -1).T + 1.0) / 2.0
    inverse = np.linalg.pinv(upsampling)
    inverse.setflags(write=False)
    return inverse


def images_to_digits(images) -> np.ndarray:
    """Maps images `[n, R, R, C]` in [-1, 1] (C = 1 or 3, R >= 8) to float64 8x8 digits in 0..16.

    Channels are averaged (the dataset replicates its gray digits), the least-squares inverse of
    the dataset's preprocessing at resolution R is applied, and the result is clipped to 0..16.
    """
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 4 or images.shape[1] != images.shape[2] or images.shape[3] not in (1, 3):
        raise ValueError(
            f"images must be [n, R, R, 1 or 3] (square, gray or RGB), got shape {images.shape}."
        )
    resolution = images.shape[1]
    if resolution < _SIDE:
        raise ValueError(f"images are {resolution}x{resolution}; the judge needs R >= {_SIDE}.")
    gray = images.mean(axis=-1).reshape(len(images), -1)
    digits = (gray + 1.0) * (DIGITS_MAX_VALUE / 2.0) @ _inverse_preprocessing(resolution).T
    return np.clip(digits, 0.0, DIGITS_MAX_VALUE).reshape(-1, _SIDE, _SIDE)


@dataclasses.dataclass(frozen=True)
class DigitsJudge:
    """An RBF SVM on 8x8 digits that scores generated digits by the class it recognises.

    Build it with `DigitsJudge.fit`. Attributes:
      model: the fitted `sklearn.svm.SVC`.
      held_out_accuracy: the fraction of the held-out real digits it recognises.
      held_out_indices: indices (into `load_digits_arrays()`) of those held-out digits.
      num_train: number of real digits it was trained on.
      seed: seed of the train / held-out permutation.
      exclude_split: the GAN's training split it kept away from, or None.
    """

    model: object
    held_out_accuracy: float
    held_out_indices: np.ndarray
    num_train: int
    seed: int
    exclude_split: str | None

    @classmethod
    def fit(
        cls, seed: int = 0, exclude_split: str | None = None, holdout: float = 0.2
    ) -> DigitsJudge:
        """Trains the judge (deterministic for `seed`; well under a second).

        Args:
          seed: seed of the permutation that splits the judge's digits into train and held out.
          exclude_split: the digits split the GAN trained on (`"train[:1600]"`, as in the data
            config); the judge then sees only the other digits. None (the GAN trained on all of
            them): the judge uses all 1,797, so it is independent of the FID classifier by its
            model and input, not by its data.
          holdout: fraction of the judge's digits held out to measure `held_out_accuracy`.
        """
        from sklearn.svm import SVC  # scikit-learn is only needed to judge digits

        if not 0.0 < holdout < 1.0:
            raise ValueError(f"holdout={holdout!r}; expected a fraction strictly between 0 and 1.")
        images, labels = load_digits_arrays()
        pool = np.arange(len(labels))
        if exclude_split is not None:
            pool = np.setdiff1d(pool, pool[split_slice(exclude_split, len(labels))])
        order = pool[np.random.default_rng(seed).permutation(len(pool))]
        count = int(round(holdout * len(order)))
        held_out, train = order[:count], order[count:]
        if not count or len(np.unique(labels[train])) < _NUM_CLASSES:
            raise ValueError(
                f"exclude_split={exclude_split!r} with holdout={holdout!r} leaves {len(train)} "
                f"training and {count} held-out digits; the judge needs held-out digits and "
                f"training digits of all {_NUM_CLASSES} classes (there are 1,797 digits)."
            )
        pixels = images.reshape(len(images), -1).astype(np.float64)
        model = SVC(gamma=_GAMMA).fit(pixels[train], labels[train])
        accuracy = float(np.mean(model.predict(pixels[held_out]) == labels[held_out]))
        held_out.setflags(write=False)
        return cls(model, accuracy, held_out, len(train), seed, exclude_split)

    def predict(self, images) -> np.ndarray:
        """The class recognised in each image `[n, R, R, C]` in [-1, 1], as int `[n]`."""
        digits = images_to_digits(images)
        return self.model.predict(digits.reshape(len(digits), -1)).astype(np.int64)

    def accuracy(self, images, labels) -> float:
        """Fraction of `images` recognised as their `labels` (the classes they were made for)."""
        labels = np.asarray(labels)
        if labels.shape != (len(images),):
            raise ValueError(
                f"labels must be [n] with one class per image ({len(images)}), "
                f"got shape {labels.shape}."
            )
        if not len(labels):
            raise ValueError("The judge needs at least one image.")
        return float(np.mean(self.predict(images) == labels))

    def describe(self) -> dict:
        """What to write next to the judge's scores: model, data and held-out accuracy."""
        return {
            "model": f"sklearn SVC(rbf, gamma={_GAMMA}) on 8x8 digits",
            "seed": self.seed,
            "exclude_split": self.exclude_split,
            "num_train": self.num_train,
            "num_held_out": len(self.held_out_indices),
            "held_out_accuracy": self.held_out_accuracy,
        }
