"""The paper's run: class-conditional ImageNet 128x128, global batch 256, 1M steps.

SAGAN / YLG settings (docs/background.md, Training): hinge loss, spectral norm in G and D,
conditional BN, projection D, z dim 128, base channels 64, attention after the 32x32 block of G
and D, TTUR Adam (G 1e-4, D 4e-4, beta1 0, beta2 0.9; the YLG code left beta2 at 0.999:
`--config.train.beta2=0.999`), one D step per G step. Plus an EMA generator (BigGAN's 0.9999 from
step 20k) scored with TF-GAN's Inception every 50k steps. The `hardware` arg sets only what
depends on the machine (precision, steps per call); the strategy is ylg-train's own flag. The
global batch stays 256 on every profile, so runs compare across machines.

  # TPU v3-8 (8 cores, 32 images each), on the TPU VM:
  ylg-train --config=experiments/configs/imagenet128.py:hardware=tpu_v3_8 \
      --strategy=tpu --tpu=local --workdir=/mnt/disks/runs/ylg_imagenet128 \
      --config.data.data_dir=gs://BUCKET/tensorflow_datasets
  # one host with 8 GPUs (32 images each):
  ylg-train --config=experiments/configs/imagenet128.py:hardware=gpu8,variant=sagan \
      --strategy=mirrored --workdir=/data/runs/sagan_imagenet128 \
      --config.data.data_dir=/data/tensorflow_datasets --config.data.manual_dir=/data/imagenet
  # 2 hosts x 8 GPUs (16 images each), the same command on each host with its own TF_CONFIG:
  ylg-train --config=experiments/configs/imagenet128.py:hardware=multi_worker \
      --strategy=multi_worker --workdir=/shared/runs/ylg_imagenet128 ...

Args: `hardware` (one of PROFILES), `variant` (any registered model variant), `reduced=True`
for a smoke run of the same profile at base channels 32, 2 images per replica and 4 steps (add
`--config.data.name=digits` to smoke-test the machine before ImageNet is prepared).
WORKSPACE.md ("Full-scale runs") has the complete launch procedures.
"""

import ml_collections

from ylg_tf.runs.config import default_config, parse_config_arg

ARGS = {"hardware": "tpu_v3_8", "variant": "ylg", "reduced": False}

# Per profile: the replicas the global batch is split over (a check, not a setting: the strategy
# decides), the precision and train steps per tf.function call.
# - TPU v3-8: bfloat16 is the MXU's native input type and keeps float32's exponent range, so it
#   needs no loss scaling; 100 steps per call amortize the host -> TPU dispatch.
# - GPUs: float32. On A100/H100 TensorFlow runs float32 matmuls and convolutions as TF32 on tensor
#   cores by default, so float16 would gain less than on a V100 while adding loss scaling to both
#   optimizers and float16's range to unscaled attention logits and spectral norm (the layers
#   guard against the known overflows, but no full-length float16 run has been checked against
#   the paper). On V100s, `--config.train.mixed_precision=float16` is the faster, unverified choice.
#   10 steps per call remove most of the Python loop's per-step cost, which matters less on GPUs.
# - Multi-worker (2 hosts x 8 GPUs): as on one host; batch norm in G is synchronized across all
#   replicas, so 16 images per replica see the same batch statistics as 32.
# `train.jit_compile` stays "auto": XLA on TPUs (TPUStrategy compiles the step itself); GPU runs
# may add `--config.train.jit_compile=on` (untested on GPUs).
PROFILES = {
    "tpu_v3_8": {"replicas": 8, "mixed_precision": "bfloat16", "steps_per_call": 100},
    "gpu8": {"replicas": 8, "mixed_precision": "", "steps_per_call": 10},
    "multi_worker": {"replicas": 16, "mixed_precision": "", "steps_per_call": 10},
}
BATCH_SIZE = 256


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    args = parse_config_arg(arg, ARGS)
    if args["hardware"] not in PROFILES:
        raise ValueError(
            f"Unknown hardware {args['hardware']!r}; expected one of {list(PROFILES)}."
        )
    profile = PROFILES[args["hardware"]]
    config = default_config()

    config.data.name = "imagenet2012"  # tfds; needs ILSVRC2012_img_{train,val}.tar in manual_dir
    config.data.resolution = 128
    config.data.split = "train"

    config.model.variant = args["variant"]
    config.model.generator.z_dim = 128
    config.model.generator.base_channels = config.model.discriminator.base_channels = 64
    # After the block out at 32x32: G's has 256 channels, D's 128.
    config.model.generator.attention_resolution = 32
    config.model.discriminator.attention_resolution = 32

    train = config.train
    train.steps = 1_000_000
    train.batch_size = BATCH_SIZE  # global
    train.d_steps = 1
    train.g_lr, train.d_lr = 1e-4, 4e-4
    train.beta1, train.beta2 = 0.0, 0.9
    train.ema_decay, train.ema_start = 0.9999, 20_000
    train.mixed_precision = profile["mixed_precision"]
    train.steps_per_call = profile["steps_per_call"]
    train.log_every = 100
    train.sample_every = 5_000
    train.checkpoint_every = 2_000  # about an hour on 8 V100s (~2.3 s/step: 27 days for 1M)
    train.keep_checkpoints = 5

    config.eval.every = 50_000
    config.eval.classifier = "inception"  # TF-GAN's, as the papers' FID / IS
    config.eval.num_samples = 10_000  # paper-comparable numbers at the end: ylg-eval, 50k
    config.eval.batch_size = 200

    if args["reduced"]:  # same profile and resolution, small widths: checks the machine and code
        # 32 is the narrowest base at which D's 32x32 block (2 x base channels) splits its
        # channels // 8 query/key channels over 8 heads (mixed_resolution needs 64).
        config.model.generator.base_channels = config.model.discriminator.base_channels = 32
        train.batch_size = 2 * profile["replicas"]
        train.steps = 4
        train.steps_per_call = min(train.steps_per_call, 2)
        train.log_every = train.sample_every = train.checkpoint_every = 2
        train.ema_start = 0
        config.eval.every = 0
    return config
