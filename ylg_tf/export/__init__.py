"""SavedModel export of a generator with `generate`, `sample` and `attention` signatures."""

from ylg_tf.export.saved_model import (
    METADATA_FILE,
    SIGNATURES,
    export_generator,
    export_run,
    to_uint8,
)

__all__ = ["METADATA_FILE", "SIGNATURES", "export_generator", "export_run", "to_uint8"]
