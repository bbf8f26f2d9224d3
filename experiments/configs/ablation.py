"""One run of the ablation study: an arm (a variant or a SAGAN ablation axis) and a seed.

  ylg-train --config=experiments/configs/ablation.py:arm=ylg,seed=1 \
      --workdir=runs/ablation/ylg/seed_1

`experiments/ablation.py` runs every arm of a study over seeds and tabulates them. Every arm shares
the budget of README's main job (embedded digits at 32x32, base width 16, batch 32, EMA 0.99) with
fewer steps; an arm only overrides the fields in its `overrides`. A 32x32 model's G has features at
8, 16 and 32 and its D at 16 and 8, so "feat32" puts G's layer at 32 and D's at 16.

Width: at 32x32 every block has 4 x base channels, so the attention layer's queries and keys get
4 x 16 / 8 = 8 channels, one per head for the 8-head arms (`sagan` has all 8 in its one head).
The paper's 4 per head needs base width 64 (256 channels at the attention layer): 16x the
parameters and about 16x the convolution work per step, which this study's CPU budget cannot
pay; README's "Ablations" section gives the measured cost.
"""

from __future__ import annotations

from typing import NamedTuple

import ml_collections

from ylg_tf.models.variants import VARIANTS
from ylg_tf.runs.config import default_config, parse_config_arg


class Arm(NamedTuple):
    """A configuration of the study: what it is and the config fields it overrides."""

    description: str
    overrides: dict


ARMS = {
    name: Arm(variant.description, {"model.variant": name}) for name, variant in VARIANTS.items()
}
# Mixed-resolution heads split C // 8 into sixteenths (widths 1/16 and 3/16), so the attention
# input needs a multiple of 128 channels: this arm runs at twice the others' base width.
ARMS["mixed_resolution"] = Arm(
    VARIANTS["mixed_resolution"].description + "; base width 32 (its head split needs it)",
    {
        "model.variant": "mixed_resolution",
        "model.generator.base_channels": 32,
        "model.discriminator.base_channels": 32,
    },
)
for _res in (8, 16, 32):  # SAGAN Table 1: attention vs a residual block at feature resolution k
    _d_res = min(_res, 16)
    ARMS[f"residual_feat{_res}"] = Arm(
        f"no attention; an extra residual block at G {_res}, D {_d_res}",
        {
            "model.variant": "no_attention",
            "model.generator.residual_resolution": _res,
            "model.discriminator.residual_resolution": _d_res,
        },
    )
    if _res != 16:  # feat16 is the `sagan` arm: the 32x32 default placement
        ARMS[f"sagan_feat{_res}"] = Arm(
            f"SAGAN attention at G {_res}, D {_d_res}",
            {
                "model.variant": "sagan",
                "model.generator.attention_resolution": _res,
                "model.discriminator.attention_resolution": _d_res,
            },
        )
# SAGAN Figures 3/4 compare stabilizations on the model without attention (its 1M-step FID, 22.96,
# is Table 1's no-attention one): SN on D only or on G and D with 1:1 balanced learning rates; the
# third curve, SN on G/D with TTUR, is the `no_attention` arm (the project's default training).
ARMS["sn_d_only_equal_lr"] = Arm(
    "no attention, SN on D only, G and D lr 1e-4 (SAGAN's baseline)",
    {"model.variant": "no_attention", "model.generator.spectral_norm": False, "train.d_lr": 1e-4},
)
ARMS["sn_gd_equal_lr"] = Arm(
    "no attention, SN on G and D, G and D lr 1e-4",
    {"model.variant": "no_attention", "train.d_lr": 1e-4},
)

#: Each study's arms, in table order, with the paper's ImageNet 128x128 result (docs/background.md;
#: FID / IS at 1M steps unless it says otherwise; "" where the paper has none).
STUDIES = {
    "variants": {
        name: {
            "no_attention": "22.96 / 42.87 (SAGAN Table 1)",
            "sagan": "18.65 / 52.52",
            "sagan_8head": "20.09 / 46.01",
            "ylg": "15.94 / 57.22",
            "ylg_hilbert": "17.07 / 48.55",
            "dense_sparse": "19.21 / 51.23",
            "mixed_resolution": "19.57 / 50.93",
        }.get(name, "")
        for name in VARIANTS
    },
    "sagan_placement": {
        "no_attention": "22.96 / 42.87",
        "sagan_feat8": "22.98 / 43.15",
        "sagan": "22.14 / 45.94 (feat16)",
        "sagan_feat32": "18.28 / 51.43",
        "residual_feat8": "42.13 / 23.17",
        "residual_feat16": "22.40 / 44.49",
        "residual_feat32": "27.33 / 38.50",
    },
    "sagan_stabilization": {
        "sn_d_only_equal_lr": "FID 181.84 at 10k (then collapses)",
        "sn_gd_equal_lr": "FID 93.52 / 33.39 / 72.41 at 10k / 160k / 260k",
        "no_attention": "FID 99.04 / 40.96 / 34.62 at 10k / 160k / 260k; 22.96 at 1M",
    },
}
#: The shared budget; every key is also an arg of `get_config` (the ablation runner sets them).
BUDGET = {"steps": 300, "eval_every": 100, "eval_samples": 500, "batch_size": 32}
ARGS = {"arm": "ylg", "seed": 0, "dataset": "digits", **BUDGET}


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    args = parse_config_arg(arg, ARGS)
    if args["arm"] not in ARMS:
        raise ValueError(f"Unknown ablation arm {args['arm']!r}; known: {sorted(ARMS)}.")
    config = default_config()
    config.seed = args["seed"]
    config.data.name = args["dataset"]
    config.data.resolution = 32
    config.model.generator.base_channels = config.model.discriminator.base_channels = 16
    config.train.steps = args["steps"]
    config.train.batch_size = args["batch_size"]
    config.train.ema_decay = 0.99
    config.train.log_every = 50
    config.train.sample_every = config.train.checkpoint_every = args["eval_every"]
    config.eval.every = args["eval_every"]
    config.eval.num_samples = args["eval_samples"]
    for key, value in ARMS[args["arm"]].overrides.items():
        *sections, field = key.split(".")
        target = config
        for section in sections:
            target = target[section]
        if field not in target:
            raise ValueError(f"Arm {args['arm']!r} sets unknown config field {key!r}.")
        target[field] = value
    return config
