"""The absl binaries (`ylg-train`, `ylg-eval`, ...): flags -> one library call each.

TensorFlow's C++ INFO and WARNING lines (CPU instruction sets, missing CUDA libraries) are hidden
unless `TF_CPP_MIN_LOG_LEVEL` is set: this runs before any binary imports TensorFlow.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
