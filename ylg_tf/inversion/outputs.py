"""Writes an inversion: arrays (`inversion.npz`), the loss curve, one comparison PNG per image."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from ylg_tf.inversion.driver import InversionResult
from ylg_tf.runs import files
from ylg_tf.viz import saliency_figure
from ylg_tf.viz.panels import enlarge, figure_scale, side_by_side, to_uint8_rgb

__all__ = ["comparison_panel", "write_inversion"]


def comparison_panel(target: np.ndarray, inverted: np.ndarray, saliency: np.ndarray | None):
    """uint8 row: target | inversion | one saliency heatmap per head (each on its own scale).

    Without saliency (a discriminator without attention), target | inversion.
    """
    if saliency is not None:
        return saliency_figure([target, inverted], saliency)
    factor = figure_scale(target.shape[0], None)
    return side_by_side([enlarge(to_uint8_rgb(image), factor) for image in (target, inverted)])


def write_inversion(
    outdir: str | Path, result: InversionResult, targets, true_z=None
) -> list[Path]:
    """Writes `inversion.npz`, `loss_curve.csv`, `loss_curve.png` and `image_<k>.png` files.

    `inversion.npz` holds `z`, `images`, `targets`, `labels`, `loss_curve` (the chosen restart
    per image, `[steps_run, B]`), `final_loss`, `best_restart`, `restart_losses`, `saliency`
    (when D has attention) and `true_z` (when the targets were generated with known latents).
    """
    targets = np.asarray(targets, np.float32)
    if targets.shape != result.images.shape:
        raise ValueError(
            f"targets {targets.shape} do not match the inversion {result.images.shape}."
        )
    arrays = dict(
        z=result.z,
        images=result.images,
        targets=targets,
        labels=result.labels,
        loss_curve=result.loss_curve,
        final_loss=result.final_loss,
        best_restart=result.best_restart,
        restart_losses=result.restart_losses,
        method=np.array(result.method),
    )
    if result.saliency is not None:
        arrays["saliency"] = result.saliency
    if true_z is not None:
        arrays["true_z"] = np.asarray(true_z, np.float32)
    written = [files.save_npz(files.join(outdir, "inversion.npz"), compressed=True, **arrays)]

    text = io.StringIO()
    header = "step," + ",".join(f"image_{k}" for k in range(result.z.shape[0]))
    steps = np.arange(1, result.loss_curve.shape[0] + 1)[:, None]
    np.savetxt(text, np.hstack([steps, result.loss_curve]), delimiter=",", header=header,
               comments="", fmt=["%d"] + ["%.6g"] * result.z.shape[0])  # fmt: skip
    written.append(files.write_text(files.join(outdir, "loss_curve.csv"), text.getvalue()))
    if result.loss_curve.shape[0]:
        written.append(_plot_curve(files.join(outdir, "loss_curve.png"), result))

    for k in range(targets.shape[0]):
        saliency = None if result.saliency is None else result.saliency[k]
        panel = comparison_panel(targets[k], result.images[k], saliency)
        written.append(files.write_png(files.join(outdir, f"image_{k:03d}.png"), panel))
    return [files.as_path(path) for path in written]


def _plot_curve(path: str, result: InversionResult) -> str:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axis = plt.subplots(figsize=(5, 3.2), dpi=100)
    steps = np.arange(1, result.loss_curve.shape[0] + 1)
    for k in range(result.loss_curve.shape[1]):
        axis.plot(steps, result.loss_curve[:, k], linewidth=1, label=f"image {k}")
    if np.all(result.loss_curve > 0):
        axis.set_yscale("log")
    axis.set_xlabel("step")
    axis.set_ylabel(f"{result.method} loss")
    if result.loss_curve.shape[1] <= 8:
        axis.legend(fontsize=7)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return files.write_bytes(path, buffer.getvalue())
