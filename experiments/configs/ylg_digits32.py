"""YLG on the embedded digits at 32x32: README's main job, about 40 minutes on 2 CPU cores.

  ylg-train --config=experiments/configs/ylg_digits32.py --workdir=runs/ylg_digits32

Args after a colon pick another variant or a smoke-sized run, e.g.
`--config=experiments/configs/ylg_digits32.py:variant=sagan,runlocal=True`.
"""

import ml_collections

from ylg_tf.runs.config import default_config, parse_config_arg

ARGS = {"variant": "ylg", "runlocal": False}


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    args = parse_config_arg(arg, ARGS)
    config = default_config()
    config.data.name = "digits"
    config.data.resolution = 32
    config.model.variant = args["variant"]
    config.model.generator.base_channels = 16
    config.model.discriminator.base_channels = 16
    config.train.steps = 1500
    config.train.batch_size = 32
    config.train.ema_decay = 0.99
    config.train.log_every = 50
    config.train.sample_every = 250
    config.train.checkpoint_every = 250
    config.eval.every = 500  # FID / IS / KID with the digits classifier (trained once, cached)
    if args["runlocal"]:  # a smoke run: seconds, not minutes
        config.model.generator.base_channels = config.model.discriminator.base_channels = 16
        config.train.steps = 4
        config.train.batch_size = 8
        config.train.log_every = config.train.sample_every = config.train.checkpoint_every = 2
        config.eval.every = 0
    return config
