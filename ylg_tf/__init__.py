"""ylg_tf: a TensorFlow 2 / Keras 3 model zoo for attention GANs (YLG, SAGAN, GANformer)."""

__version__ = "0.1.0"
