"""The training loop drives a back end: its code reaches no TensorFlow-only training module, and
`GANTrainer` is the loop over the TensorFlow back end."""

import ast
import importlib.util
from pathlib import Path

from ylg_tf.training import GANTrainer, TrainingLoop
from ylg_tf.training.backend import TrainingBackend
from ylg_tf.training.tensorflow_backend import TensorFlowBackend

ROOT = Path(__file__).resolve().parents[1]
#: The modules only the TensorFlow back end may use.
TENSORFLOW_ONLY = {
    "ylg_tf.training.tensorflow_backend",
    "ylg_tf.training.step",
    "ylg_tf.training.checkpointing",
    "ylg_tf.training.strategy",
    "ylg_tf.training.trainer",
}


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def _imported(path: Path) -> set[str]:
    """The project modules whose code `path` uses: `from package import module` names the
    module (not the package's `__init__`); `from module import name` names the module."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                names.add(full if _is_module(full) else node.module)
    return {name for name in names if name.split(".")[0] == "ylg_tf"}


def code_closure(module: str) -> set[str]:
    """Every project module whose code `module` reaches through its imports."""
    seen, todo = set(), [module]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        origin = importlib.util.find_spec(name).origin
        todo.extend(_imported(Path(origin)))
    return seen


def test_the_loop_reaches_no_tensorflow_only_training_code():
    closure = code_closure("ylg_tf.training.loop")
    assert "ylg_tf.training.backend" in closure and "ylg_tf.training.summaries" in closure
    assert not closure & TENSORFLOW_ONLY, sorted(closure & TENSORFLOW_ONLY)
    assert not any(name.startswith("ylg_tf.jax_engine") for name in closure)
    # The check can fail: the trainer, which builds the TensorFlow back end, reaches them.
    assert TENSORFLOW_ONLY - {"ylg_tf.training.trainer"} <= code_closure("ylg_tf.training.trainer")


def test_gan_trainer_is_the_loop_over_the_tensorflow_backend():
    assert issubclass(GANTrainer, TrainingLoop) and issubclass(TensorFlowBackend, TrainingBackend)
    abstract = TrainingBackend.__abstractmethods__
    assert abstract == {
        "prepare", "chief", "worker", "batches", "build", "step", "train", "loss_scale",
        "save", "latest_checkpoint", "saved", "saves_on_preemption",
    }  # fmt: skip
    assert not TensorFlowBackend.__abstractmethods__  # implements every one


def test_the_jax_engine_is_the_loop_over_the_jax_backend():
    from ylg_tf.jax_engine.backend import JaxBackend

    assert issubclass(JaxBackend, TrainingBackend) and not JaxBackend.__abstractmethods__
    closure = code_closure("ylg_tf.jax_engine.backend")
    assert not closure & TENSORFLOW_ONLY, sorted(closure & TENSORFLOW_ONLY)
    assert "ylg_tf.training.loop" in code_closure("ylg_tf.jax_engine")
