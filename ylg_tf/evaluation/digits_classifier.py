"""A small CNN for the embedded digits dataset: the offline classifier of FID / IS / KID.

Inception features say little about 8x8 handwritten digits upsampled to 32x32, and the Inception
module needs a download. This CNN is trained by the project itself, in seconds on a CPU, on a fixed
80% of the 1,797 digits (the dataset's only split) and checked on the other 20%; its 128-unit
penultimate layer plays the role of Inception's `pool_3` and its 10 logits that of Inception's
logits. It is trained once and cached (`<cache>/classifiers/digits/`: `model.keras` and
`info.json` with the held-out accuracy), so that every run evaluated with the same cache uses the
same network and their scores can be compared.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from ylg_tf.data import build_dataset
from ylg_tf.evaluation.classifiers import Classifier
from ylg_tf.evaluation.protocols import PROTOCOLS, Protocol
from ylg_tf.runs import files

__all__ = [
    "DIGITS_CLASSIFIER_RESOLUTION",
    "build_digits_classifier",
    "digits_arrays",
    "digits_classifier",
    "train_digits_classifier",
]

DIGITS_CLASSIFIER_RESOLUTION = 32
FEATURES = 128
NUM_CLASSES = 10
MODEL_FILE = "model.keras"
INFO_FILE = "info.json"


def build_digits_classifier(seed: int = 0) -> keras.Model:
    """The CNN: 32x32x3 in [-1, 1] -> `[logits [B, 10], features [B, 128]]` (features: ReLU).

    2x2 average pooling to 16x16, two pairs of 3x3 ReLU convolutions (32, 64 filters) each
    followed by 2x2 max pooling, a 128-unit ReLU layer (the features) and a linear layer (logits).
    """

    def init(k: int):
        return keras.initializers.GlorotUniform(seed=seed * 100 + k)

    # --- layers ---
    images = keras.Input((DIGITS_CLASSIFIER_RESOLUTION, DIGITS_CLASSIFIER_RESOLUTION, 3))
    h = keras.layers.AveragePooling2D(2, name="downsample")(images)  # the digits are 8x8 at heart
    for k, filters in enumerate((32, 32, 64, 64)):
        h = keras.layers.Conv2D(
            filters,
            3,
            padding="same",
            activation="relu",
            kernel_initializer=init(k),
            name=f"conv_{k}",
        )(h)
        if k % 2:
            h = keras.layers.MaxPooling2D(2, name=f"pool_{k // 2}")(h)
    h = keras.layers.Flatten(name="flatten")(h)
    features = keras.layers.Dense(
        FEATURES, activation="relu", kernel_initializer=init(4), name="features"
    )(h)
    logits = keras.layers.Dense(NUM_CLASSES, kernel_initializer=init(5), name="logits")(features)
    # --- functional model ---
    return keras.Model(images, [logits, features], name="digits_classifier")


def digits_arrays(
    seed: int = 0, holdout: float = 0.2
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """`((train images, labels), (held-out images, labels))`: the digits at 32x32 in [-1, 1],
    split by a fixed permutation of `seed`, `holdout` of them held out."""
    dataset, _ = build_dataset("digits", DIGITS_CLASSIFIER_RESOLUTION)
    images, labels = next(iter(dataset.batch(1 << 16).as_numpy_iterator()))
    order = np.random.default_rng(seed).permutation(len(labels))
    held = int(round(holdout * len(labels)))
    train, test = order[held:], order[:held]
    return (images[train], labels[train]), (images[test], labels[test])


def train_digits_classifier(
    directory: str | Path, epochs: int = 10, seed: int = 0, batch_size: int = 64
) -> dict:
    """Trains the CNN and writes `model.keras` and `info.json` into `directory` (all or nothing).

    Deterministic for a seed: seeded initializers, a NumPy permutation per epoch, no dropout.

    Returns:
      The `info.json` content: `accuracy` (held-out), sample counts, epochs, seed, fingerprint.
    """
    (x_train, y_train), (x_test, y_test) = digits_arrays(seed)
    model = build_digits_classifier(seed)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=[keras.losses.SparseCategoricalCrossentropy(from_logits=True), None],
    )
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        order = rng.permutation(len(y_train))
        model.fit(
            x_train[order],
            y_train[order],
            batch_size=batch_size,
            epochs=1,
            shuffle=False,
            verbose=0,
        )
    logits, _ = model.predict(x_test, batch_size=256, verbose=0)
    accuracy = float(np.mean(np.argmax(logits, axis=1) == y_test))
    with files.atomic_directory(directory, replace=True) as scratch:
        model_path = files.join(scratch, MODEL_FILE)
        model.save(model_path)
        info = {
            "accuracy": accuracy,
            "num_train": int(len(y_train)),
            "num_heldout": int(len(y_test)),
            "epochs": epochs,
            "seed": seed,
            "resolution": DIGITS_CLASSIFIER_RESOLUTION,
            "features": FEATURES,
            "classes": NUM_CLASSES,
            "fingerprint": _fingerprint(model_path),
        }
        files.write_json(files.join(scratch, INFO_FILE), info)
    logging.info("Digits classifier: held-out accuracy %.4f, saved in %s.", accuracy, directory)
    return info


def digits_classifier(
    directory: str | Path, epochs: int = 10, protocol: Protocol = PROTOCOLS["digits"]
) -> Classifier:
    """The cached digits classifier in `directory`, trained there first if it is missing.

    `protocol`: `digits` (bilinear, the identity at 32x32) or `clean`. Its weights' identity is
    the SHA-256 of `model.keras` (first 10 hex digits).
    """
    model_path, info_path = files.join(directory, MODEL_FILE), files.join(directory, INFO_FILE)
    if not files.exists(model_path) or not files.exists(info_path):
        logging.info("Training the digits classifier into %s (once).", directory)
        train_digits_classifier(directory, epochs=epochs)
    info = files.read_json(info_path)
    model = keras.models.load_model(model_path, compile=False)

    def fn(images):
        if keras.backend.backend() == "tensorflow":
            logits, features = model(images, training=False)
            return logits, features
        # Another Keras backend (the JAX engine's evaluation): the model runs outside the
        # classifier's tf.function, on the NumPy values of its input.
        return tf.numpy_function(_numpy_outputs(model), [images], [tf.float32, tf.float32])

    classifier = Classifier(
        "digits",
        f"digits-{info['fingerprint']}",
        DIGITS_CLASSIFIER_RESOLUTION,
        fn,
        protocol=protocol,
        weights=f"{MODEL_FILE} sha256:{info['fingerprint']}",
    )
    classifier.model, classifier.info = model, info
    return classifier


def _numpy_outputs(model: keras.Model):
    def outputs(images: np.ndarray) -> list[np.ndarray]:
        return [
            keras.ops.convert_to_numpy(o).astype(np.float32) for o in model(images, training=False)
        ]

    return outputs


def _fingerprint(path: str) -> str:
    with tf.io.gfile.GFile(path, "rb") as file:
        return hashlib.sha256(file.read()).hexdigest()[:10]
