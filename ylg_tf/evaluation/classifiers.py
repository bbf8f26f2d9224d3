"""Classifier backends of the metrics: images in [-1, 1] -> (logits, activations).

- `inception`: TF-GAN's Inception network, the TF-Hub module `tensorflow/tfgan/eval/inception/1`
  (the 2015-12-05 Inception graph: `logits` 1008, `pool_3` 2048), from a local SavedModel
  directory, a `.tar.gz` of one, or a TF-Hub URL downloaded once into the cache. Images are
  resized to 299x299 as the metric protocol says (`tfgan`, the default: bilinearly without
  antialiasing, as TF-GAN does; `protocols.py`) and passed in [-1, 1].
- `digits`: a small CNN that the project trains on the embedded digits dataset and caches
  (`ylg_tf.evaluation.digits_classifier`), so that FID / IS / KID mean something offline.

A spec string picks one: `"digits"`, `"inception"` (the TF-Hub handle), `"inception:/local/dir"`,
`"inception:/file.tar.gz"` or `"inception:https://..."`; `"auto"` picks digits for the digits
dataset and Inception otherwise.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.request
from collections.abc import Callable
from pathlib import Path

import numpy as np
import tensorflow as tf
from absl import logging

from ylg_tf.evaluation.protocols import CUSTOM_PROTOCOL, PROTOCOLS, Protocol

__all__ = [
    "CLASSIFIER_SPECS",
    "INCEPTION_HANDLE",
    "INCEPTION_SIZE",
    "Classifier",
    "inception_classifier",
    "resolve_classifier_spec",
    "resolve_hub_handle",
    "saved_model_classifier",
    "saved_model_digest",
]

INCEPTION_HANDLE = "https://tfhub.dev/tensorflow/tfgan/eval/inception/1"
INCEPTION_SIZE = 299
INCEPTION_LOGITS = "logits"
INCEPTION_ACTIVATIONS = "pool_3"
CLASSIFIER_SPECS = (
    "'auto', 'digits', 'inception' (the TF-Hub module), 'inception:/local/saved_model_dir', "
    "'inception:/path/module.tar.gz' or 'inception:https://...'"
)


class Classifier:
    """Runs a network on images in [-1, 1] and returns float32 `(logits, activations)`.

    Args:
      name: the spec that built it (`"digits"`, `"inception:..."`), written with every score.
      fingerprint: identifies the weights; keys the cache of real-data statistics.
      input_size: the square input side; other images are resized to it.
      fn: float32 `[B, input_size, input_size, 3]` in [-1, 1] -> `(logits, activations)`.
      protocol: the metric protocol: how images are resized (and rounded) to `input_size`.
      weights: the weights' identity written with every score (default `fingerprint`): a file
        hash, or the handle and content hash of a SavedModel.

    Call arguments:
      images: `[B, H, W, 3]` (or `[B, H, W, 1]`, repeated to RGB) float images in [-1, 1].

    Returns:
      `(logits [B, classes], activations [B, features])` NumPy float32 arrays.
    """

    def __init__(
        self,
        name: str,
        fingerprint: str,
        input_size: int,
        fn: Callable,
        protocol: Protocol = CUSTOM_PROTOCOL,
        weights: str | None = None,
    ) -> None:
        self.name = name
        self.fingerprint = fingerprint
        self.input_size = input_size
        self.protocol = protocol
        self.weights = weights or fingerprint
        self._fn = fn
        self._run = tf.function(
            self._forward,
            input_signature=[tf.TensorSpec([None, None, None, None], tf.float32)],
        )

    def _forward(self, images: tf.Tensor):
        images = tf.cond(
            tf.shape(images)[-1] == 1, lambda: tf.tile(images, [1, 1, 1, 3]), lambda: images
        )
        images = tf.ensure_shape(images, [None, None, None, 3])
        if self.protocol.quantize:  # as an 8-bit image file would hold them
            images = tf.round((tf.clip_by_value(images, -1.0, 1.0) + 1.0) * 127.5) / 127.5 - 1.0
        size = self.input_size
        resized = tf.image.resize(
            images,
            [size, size],
            method=self.protocol.resize_method,
            antialias=self.protocol.antialias,
        )
        logits, activations = self._fn(resized)
        batch = tf.shape(images)[0]
        return (
            tf.reshape(tf.cast(logits, tf.float32), [batch, -1]),
            tf.reshape(tf.cast(activations, tf.float32), [batch, -1]),
        )

    def __call__(self, images) -> tuple[np.ndarray, np.ndarray]:
        images = tf.convert_to_tensor(images, tf.float32)
        if images.shape.rank != 4 or images.shape[-1] not in (1, 3):
            raise ValueError(f"Expected images [B, H, W, 3] in [-1, 1], got shape {images.shape}.")
        logits, activations = self._run(images)
        return logits.numpy(), activations.numpy()

    def __repr__(self) -> str:
        return (
            f"Classifier({self.name!r}, fingerprint={self.fingerprint!r}, "
            f"protocol={self.protocol.name!r})"
        )


def resolve_classifier_spec(spec: str, dataset: str) -> str:
    """`"auto"` -> `"digits"` for the digits dataset, `"inception"` otherwise; checks the spec."""
    spec = (spec or "auto").strip()
    if spec == "auto":
        return "digits" if dataset == "digits" else "inception"
    if spec in ("digits", "inception") or (spec.startswith("inception:") and len(spec) > 10):
        return spec
    raise ValueError(f"Unknown classifier {spec!r}; expected {CLASSIFIER_SPECS}.")


def inception_classifier(
    spec: str, cache_dir, protocol: Protocol = PROTOCOLS["tfgan"]
) -> Classifier:
    """The Inception classifier of an `"inception"` or `"inception:<handle>"` spec; a URL is
    downloaded once into `<cache_dir>/tfhub/`. `protocol`: `tfgan` or `clean`."""
    handle = INCEPTION_HANDLE if spec == "inception" else spec[len("inception:") :]
    if "://" in str(cache_dir):  # a module is extracted on a local disk to be loaded
        local = Path(os.environ.get("TFHUB_CACHE_DIR") or Path.home() / ".cache" / "ylg_tf")
        logging.info("The cache %s is a URL; TF-Hub modules go to %s.", cache_dir, local)
        cache_dir = local
    directory = resolve_hub_handle(handle, Path(cache_dir) / "tfhub")
    return saved_model_classifier(
        directory, name=f"inception:{handle}", handle=handle, protocol=protocol
    )


def saved_model_classifier(
    directory: str | Path,
    name: str,
    handle: str | None = None,
    input_size: int = INCEPTION_SIZE,
    logits_key: str = INCEPTION_LOGITS,
    activations_key: str = INCEPTION_ACTIVATIONS,
    protocol: Protocol = PROTOCOLS["tfgan"],
) -> Classifier:
    """A classifier from a SavedModel that maps images to a dict with logits and activations.

    Its `weights` identity is the handle (or directory) and the SHA-256 of the SavedModel's
    files (`saved_model.pb` and `variables/`), so that a score names the exact network.

    The TF-GAN Inception module is called directly (`module(images)["pool_3"]`); a SavedModel
    without `__call__` is called through its `serving_default` (or `default`) signature.
    Activations of rank > 2 (e.g. `[B, 1, 1, 2048]`) are flattened.
    """
    directory = Path(directory)
    if not (directory / "saved_model.pb").exists():
        raise ValueError(f"{directory} is not a SavedModel directory (no saved_model.pb).")
    module = tf.saved_model.load(str(directory))
    call = _module_call(module, directory)

    def fn(images):
        outputs = call(images)
        missing = {logits_key, activations_key} - set(outputs)
        if missing:
            raise ValueError(
                f"{directory}: outputs {sorted(outputs)} lack {sorted(missing)}; the TF-GAN "
                f"Inception module returns '{INCEPTION_LOGITS}' and '{INCEPTION_ACTIVATIONS}'."
            )
        return outputs[logits_key], outputs[activations_key]

    fingerprint = "inception-" + hashlib.sha1((handle or str(directory)).encode()).hexdigest()[:10]
    weights = f"{handle or directory} sha256:{saved_model_digest(directory)}"
    classifier = Classifier(name, fingerprint, input_size, fn, protocol=protocol, weights=weights)
    classifier.module = module  # keeps the loaded variables alive
    return classifier


def saved_model_digest(directory: str | Path) -> str:
    """SHA-256 (16 hex digits) of a SavedModel's graph and variable files, names included."""
    directory = Path(directory)
    digest = hashlib.sha256()
    paths = [directory / "saved_model.pb", *sorted((directory / "variables").glob("*"))]
    for path in paths:
        if path.is_file():
            digest.update(path.relative_to(directory).as_posix().encode())
            with open(path, "rb") as file:
                for chunk in iter(lambda: file.read(1 << 20), b""):
                    digest.update(chunk)
    return digest.hexdigest()[:16]


def _module_call(module, directory: Path) -> Callable:
    if callable(module):
        return module
    for key in ("serving_default", "default"):
        signature = getattr(module, "signatures", {}).get(key)
        if signature is not None:
            (input_name,) = signature.structured_input_signature[1]
            return lambda images, s=signature, k=input_name: s(**{k: images})
    raise ValueError(f"{directory}: the SavedModel is not callable and has no default signature.")


def resolve_hub_handle(handle: str, cache_dir: str | Path) -> Path:
    """A TF-Hub handle -> a local SavedModel directory, downloading a URL once.

    - a directory holding `saved_model.pb`: used as it is;
    - a local `.tar.gz` / `.tgz`: extracted into `cache_dir/<sha1 of its path>/`;
    - an `http(s)://` URL: if `$TFHUB_CACHE_DIR/<sha1 of the URL>` (tensorflow_hub's cache
      layout) holds it, that; otherwise `<URL>?tf-hub-format=compressed` (tfhub.dev serves the
      module as a tar.gz there; it redirects to Kaggle Models) is downloaded and extracted into
      `cache_dir/<sha1 of the URL>/`.
    """
    cache_dir = Path(cache_dir)
    if handle.startswith(("http://", "https://")):
        key = hashlib.sha1(handle.encode()).hexdigest()
        for root in filter(None, (os.environ.get("TFHUB_CACHE_DIR"), str(cache_dir))):
            if (Path(root) / key / "saved_model.pb").exists():
                return Path(root) / key
        separator = "&" if "?" in handle else "?"
        url = (
            handle if "tf-hub-format" in handle else f"{handle}{separator}tf-hub-format=compressed"
        )
        logging.info("Downloading %s into %s.", url, cache_dir / key)
        with tempfile.TemporaryDirectory() as scratch:
            archive = Path(scratch) / "module.tar.gz"
            urllib.request.urlretrieve(url, archive)  # noqa: S310 - a user-given model URL
            return _extract(archive, cache_dir / key)
    path = Path(handle).expanduser()
    if path.is_dir():
        if not (path / "saved_model.pb").exists():
            raise ValueError(f"{path} is not a SavedModel directory (no saved_model.pb).")
        return path
    if path.is_file() and path.name.endswith((".tar.gz", ".tgz")):
        target = cache_dir / hashlib.sha1(str(path.resolve()).encode()).hexdigest()
        if (target / "saved_model.pb").exists():
            return target
        return _extract(path, target)
    raise ValueError(
        f"Classifier handle {handle!r} is neither a SavedModel directory, a .tar.gz file nor an "
        f"http(s) URL; expected {CLASSIFIER_SPECS}."
    )


def _extract(archive: Path, target: Path) -> Path:
    """Extracts a tar.gz SavedModel into `target`, all or nothing."""
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=target.parent, prefix=".extract-"))
    try:
        with tarfile.open(archive, "r:gz") as tar:
            if hasattr(tarfile, "data_filter"):  # Python >= 3.10.12: refuse unsafe members
                tar.extractall(scratch, filter="data")
            else:  # pragma: no cover
                tar.extractall(scratch)  # noqa: S202
        roots = [p.parent for p in scratch.rglob("saved_model.pb")]
        if not roots:
            raise ValueError(f"{archive} holds no saved_model.pb.")
        if target.exists():
            shutil.rmtree(target)
        shutil.move(str(min(roots, key=lambda p: len(p.parts))), target)
        mask = os.umask(0)  # mkdtemp made the scratch 0700: give the cache the umask's modes
        os.umask(mask)
        os.chmod(target, 0o777 & ~mask)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target
