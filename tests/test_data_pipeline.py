"""Per-replica batches through `tf.distribute` (two logical CPUs, see conftest.py) and sharding."""

import numpy as np
import pytest
import tensorflow as tf
from distribute_util import two_cpu_strategy
from PIL import Image

from ylg_tf.data import build_dataset, distributed_batches, resolve_source

GLOBAL_BATCH = 8
RES = 8


@pytest.fixture(scope="module")
def strategy():
    return two_cpu_strategy()


def _steps(dist_dataset, strategy, steps):
    """Per step, the list over replicas of `(images, labels)` as NumPy arrays."""
    iterator = iter(dist_dataset)
    out = []
    for _ in range(steps):
        images, labels = next(iterator)
        out.append(
            [
                (x.numpy(), y.numpy())
                for x, y in zip(
                    strategy.experimental_local_results(images),
                    strategy.experimental_local_results(labels),
                    strict=True,
                )
            ]
        )
    return out


def _keys(images):
    return {image.tobytes() for image in images}


def test_each_replica_gets_half_of_the_global_batch(strategy):
    source = resolve_source("digits", RES)
    dist_dataset = distributed_batches(strategy, source, GLOBAL_BATCH, seed=1)
    assert source.info.num_classes == 10
    steps = _steps(dist_dataset, strategy, 10)
    seen = []
    for replicas in steps:
        assert len(replicas) == 2
        (x0, y0), (x1, y1) = replicas
        for x, y in replicas:
            assert x.shape == (GLOBAL_BATCH // 2, RES, RES, 3) and x.dtype == np.float32
            assert y.shape == (GLOBAL_BATCH // 2,) and y.dtype == np.int32
            assert -1.0 <= x.min() and x.max() <= 1.0
        assert not _keys(x0) & _keys(x1)  # the two replicas get different examples
        seen.extend([*x0, *x1])
    # 80 draws from one shuffled epoch of 1,797 distinct digits: no repeats
    assert len(_keys(seen)) == len(seen) == 80


def test_seed_makes_the_order_reproducible(strategy):
    digits = resolve_source("digits", RES)
    first = _steps(distributed_batches(strategy, digits, GLOBAL_BATCH, seed=3), strategy, 1)
    again = _steps(distributed_batches(strategy, digits, GLOBAL_BATCH, seed=3), strategy, 1)
    other = _steps(distributed_batches(strategy, digits, GLOBAL_BATCH, seed=4), strategy, 1)
    np.testing.assert_array_equal(first[0][0][1], again[0][0][1])
    np.testing.assert_array_equal(first[0][1][0], again[0][1][0])
    assert not np.array_equal(first[0][0][0], other[0][0][0])


def test_small_folder_repeats_with_full_batches(strategy, tmp_path):
    for label, name in enumerate(["cats", "dogs"]):
        for i in range(3):
            value = np.full((5, 7, 3), 40 * label + i, np.uint8)
            (tmp_path / name).mkdir(exist_ok=True)
            Image.fromarray(value).save(tmp_path / name / f"{i}.png")
    source = resolve_source(f"folder:{tmp_path}", RES)
    dist_dataset = distributed_batches(strategy, source, GLOBAL_BATCH, seed=0)
    assert source.info.num_examples == 6 and source.info.num_classes == 2
    for replicas in _steps(dist_dataset, strategy, 4):  # 64 examples drawn from 6: repeats
        for images, labels in replicas:
            assert images.shape == (GLOBAL_BATCH // 2, RES, RES, 3)
            assert set(labels) <= {0, 1}


def test_input_pipelines_read_disjoint_shards():
    contexts = [tf.distribute.InputContext(2, pipeline, 2) for pipeline in range(2)]
    shards = [build_dataset("digits", RES, input_context=c)[0] for c in contexts]
    images = [next(iter(shard.batch(2000)))[0].numpy() for shard in shards]
    assert len(images[0]) + len(images[1]) == 1797
    assert not _keys(images[0]) & _keys(images[1])
    full = next(iter(build_dataset("digits", RES)[0].batch(2000)))[0].numpy()
    assert _keys(images[0]) | _keys(images[1]) == _keys(full)


def test_global_batch_must_split_over_replicas(strategy):
    with pytest.raises(ValueError, match="global_batch_size=7"):
        distributed_batches(strategy, resolve_source("digits", RES), 7, seed=0)


@pytest.mark.parametrize("name", ["", "folder:", "no_such_dataset_xyz"])
def test_bad_names_list_the_accepted_forms(name):
    with pytest.raises(ValueError, match="digits"):
        resolve_source(name, RES)


@pytest.mark.parametrize("resolution", [0, -8, 2.5, True])
def test_bad_resolution(resolution):
    with pytest.raises(ValueError, match="resolution"):
        build_dataset("digits", resolution)
