"""Score files compared only under one metric protocol: compare_scores, ylg-eval --compare."""

import copy
import json

import pytest
from binaries import run_binary

from ylg_tf.evaluation import compare_score_files, compare_scores, describe_protocol
from ylg_tf.evaluation.compare import format_comparison

PROTOCOL = {
    "name": "tfgan",
    "backbone": {
        "name": "inception:https://tfhub.dev/tensorflow/tfgan/eval/inception/1",
        "weights": "https://tfhub.dev/tensorflow/tfgan/eval/inception/1 sha256:0123456789abcdef",
        "features": 2048,
    },
    "resize": {"method": "bilinear", "antialias": False, "quantize_8bit": False, "size": 299},
    "reference": {"dataset": "cifar10", "split": "train", "resolution": 32, "count": 10000},
    "generated": 10000,
}


def _scores(fid: float, precision: float | None = 0.7, **protocol_changes) -> dict:
    protocol = copy.deepcopy(PROTOCOL)
    for path, value in protocol_changes.items():
        *parents, leaf = path.split("__")
        node = protocol
        for parent in parents:
            node = node[parent]
        node[leaf] = value
    return {"fid": fid, "is": 8.0, "kid": 0.01, "precision": precision, "protocol": protocol}


def test_same_protocol_gives_b_minus_a():
    comparison = compare_scores(_scores(20.0, 0.6), _scores(14.5, 0.75))
    assert comparison["protocol"] == PROTOCOL
    assert comparison["metrics"]["fid"] == {"a": 20.0, "b": 14.5, "difference": -5.5}
    assert comparison["metrics"]["precision"]["difference"] == pytest.approx(0.15)
    assert comparison["metrics"]["is"]["difference"] == 0.0
    # a score one file lacks (or holds as null) is left out, not compared with nothing
    assert "precision" not in compare_scores(_scores(20.0, None), _scores(14.5))["metrics"]
    text = format_comparison(comparison, "a.json", "b.json")
    assert "fid" in text and "-5.5000" in text and "protocol `tfgan`" in text


@pytest.mark.parametrize(
    "change, message",
    [
        ({"resize__antialias": True}, "resize.antialias: False != True"),
        ({"name": "clean"}, "name: 'tfgan' != 'clean'"),
        ({"generated": 50000}, "generated: 10000 != 50000"),
        ({"reference__split": "test"}, "reference.split: 'train' != 'test'"),
        ({"backbone__weights": "other sha256:ff"}, "backbone.weights: "),
    ],
)
def test_different_protocols_are_refused_naming_the_field(change, message):
    with pytest.raises(ValueError, match="different protocols") as error:
        compare_scores(_scores(20.0), _scores(14.0, **change), names=("a.json", "b.json"))
    assert message in str(error.value) and "a.json and b.json" in str(error.value)


def test_a_file_without_protocol_is_refused():
    legacy = _scores(20.0)
    del legacy["protocol"]
    with pytest.raises(ValueError, match="old.json records no metric protocol"):
        compare_scores(legacy, _scores(14.0), names=("old.json", "new.json"))


def test_files_without_a_shared_score_are_refused():
    sweep = {"points": [{"truncation": 1.0, "fid": 30.0}], "protocol": PROTOCOL}
    with pytest.raises(ValueError, match="a.json and sweep.json share no score"):
        compare_scores(_scores(20.0), sweep, names=("a.json", "sweep.json"))


def test_describe_protocol_names_what_moves_fid():
    line = describe_protocol(PROTOCOL)
    for part in ("`tfgan`", "sha256:0123456789abcdef", "bilinear resize to 299 without", "10000"):
        assert part in line, part


def test_ylg_eval_compare_binary(tmp_path):
    first, second, other = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.json"
    first.write_text(json.dumps(_scores(20.0)))
    second.write_text(json.dumps(_scores(17.0)))
    other.write_text(json.dumps(_scores(17.0, name="clean", resize__antialias=True)))
    assert compare_score_files(first, second)["metrics"]["fid"]["difference"] == -3.0
    result = run_binary("ylg-eval", f"--compare={first},{other}")
    assert result.returncode == 1, result.stderr[-3000:]
    assert "error: Refusing to compare" in result.stderr
    assert "name: 'tfgan' != 'clean'" in result.stderr and "Traceback" not in result.stderr
    result = run_binary("ylg-eval", f"--compare={first},{second}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "-3.0000" in result.stdout
    result = run_binary("ylg-eval", f"--compare={first},{tmp_path / 'typo.json'}")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert f"error: No file at {tmp_path / 'typo.json'}." in result.stderr
    result = run_binary("ylg-eval", f"--compare={first}", f"--workdir={tmp_path}")
    assert result.returncode == 2 and "either --workdir" in result.stderr
