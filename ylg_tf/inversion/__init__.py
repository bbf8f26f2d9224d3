"""YLG's GAN inversion: find z with G(z) close to an image, in D's saliency-weighted feature space.

`invert` is the driver, `METHODS` its losses, `saliency_maps` D's per-head saliency, `Lookahead`
the optimizer wrapper, `load_target` reads any image file, `write_inversion` writes the outputs,
and `invert_run` does all of it for a training run (what `ylg-invert` calls). Definitions:
docs/background.md, Inversion.
"""

from ylg_tf.inversion.driver import InversionResult, invert
from ylg_tf.inversion.lookahead import Lookahead
from ylg_tf.inversion.losses import METHODS, Target, inversion_loss, prepare_target
from ylg_tf.inversion.outputs import comparison_panel, write_inversion
from ylg_tf.inversion.quality import d0_distance, psnr, ssim
from ylg_tf.inversion.runs import (
    RunInversion,
    invert_run,
    load_discriminator,
    load_models,
    progress_logger,
)
from ylg_tf.inversion.saliency import key_saliency, project_saliency, saliency_maps
from ylg_tf.inversion.targets import check_labels, load_target

__all__ = [
    "METHODS",
    "InversionResult",
    "Lookahead",
    "RunInversion",
    "Target",
    "check_labels",
    "comparison_panel",
    "d0_distance",
    "inversion_loss",
    "invert",
    "invert_run",
    "key_saliency",
    "load_discriminator",
    "load_models",
    "load_target",
    "prepare_target",
    "progress_logger",
    "project_saliency",
    "psnr",
    "saliency_maps",
    "ssim",
    "write_inversion",
]
