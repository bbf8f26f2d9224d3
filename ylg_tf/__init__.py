"""ylg_tf: a TensorFlow 2 / Keras 3 model zoo for attention GANs (YLG, SAGAN, GANformer).

TensorFlow comes with exactly one of the extras `cpu`, `gpu` or `tpu` (its CPU/GPU and Cloud TPU
wheels install the same module and must not both be installed), so a bare `pip install ylg_tf`
has none: say so here rather than deep inside the first TensorFlow import.
"""

import importlib.util

if importlib.util.find_spec("tensorflow") is None:
    raise ImportError(
        "ylg_tf needs TensorFlow, which comes with one of its extras: pip install 'ylg_tf[cpu]' "
        "(CPUs), 'ylg_tf[gpu]' (NVIDIA GPUs) or 'ylg_tf[tpu]' (Cloud TPU VMs)."
    )

__version__ = "0.1.0"
