"""Parameter schemas: coercion from strings, limits as errors, presets."""

from __future__ import annotations

import pytest

from experiments.errors import ParamError
from experiments.params import Param, Schema

SCHEMA = Schema(
    params=(Param("seeds", "int", 5, "seeds", 1, 64),
            Param("lr", "float", 0.1, "learning rate", 1e-5, 1.0),
            Param("sizes", "int_list", [4, 8], "batch sizes", 2, 512, max_len=3),
            Param("opt", "str", "sgd", "optimizer", choices=("sgd", "adam")),
            Param("fast", "bool", False, "flag")),
    presets={"smoke": {"seeds": 2}},
)


def test_resolve_layers_defaults_preset_and_overrides():
    p = SCHEMA.resolve("smoke", {"lr": "0.01", "sizes": "2,16", "fast": "yes"})
    assert p == {"seeds": 2, "lr": 0.01, "sizes": [2, 16], "opt": "sgd", "fast": True}
    assert SCHEMA.resolve("quick")["seeds"] == 5


@pytest.mark.parametrize("text", ["2,16", "2, 16", "[2, 16]", " [2,16] "])
def test_a_list_may_be_written_with_or_without_brackets(text):
    assert SCHEMA.resolve("quick", {"sizes": text})["sizes"] == [2, 16]


@pytest.mark.parametrize(("overrides", "field", "words"), [
    ({"seeds": 0}, "seeds", "below the minimum"),
    ({"seeds": 1.5}, "seeds", "expected int"),
    ({"lr": "fast"}, "lr", "expected float"),
    ({"lr": "nan"}, "lr", "finite"),
    ({"sizes": [4, 1]}, "sizes", "below the minimum"),
    ({"sizes": [4, 8, 16, 32]}, "sizes", "at most 3"),
    ({"sizes": "[]"}, "sizes", "non-empty list"),
    ({"sizes": "[4,"}, "sizes", "expected int"),
    ({"opt": "rmsprop"}, "opt", "sgd, adam"),
    ({"fast": "maybe"}, "fast", "true or false"),
    ({"wat": 1}, "wat", "valid: seeds, lr, sizes, opt, fast"),
])
def test_bad_values_are_errors_naming_the_field(overrides, field, words):
    with pytest.raises(ParamError) as err:
        SCHEMA.resolve("quick", overrides)
    assert err.value.field == field
    assert words in str(err.value)


def test_unknown_preset():
    with pytest.raises(ParamError, match="valid: smoke, quick, full"):
        SCHEMA.resolve("huge")


def test_a_preset_outside_the_limits_is_a_programming_error():
    with pytest.raises(ParamError):
        Schema(params=(Param("seeds", "int", 5, "s", 1, 64),), presets={"full": {"seeds": 99}})


def test_a_batch_larger_than_the_test_split_grows_the_dataset_unless_its_size_was_set():
    """Training batches also group the test set in train-mode evaluation, so every batch
    must fit in the test split (a fifth of num_samples)."""
    from experiments import catalog, datasets

    q = catalog.get("deep_gradients")
    params = q.resolve("smoke", {"batch_size": 1024})  # smoke's 1,000 samples test on 200
    assert datasets.split_sizes(params["num_samples"])[1] >= 1024
    assert q.resolve("smoke", {"batch_size": 200})["num_samples"] == 1000  # it fits: as set
    with pytest.raises(ParamError) as err:
        q.resolve("smoke", {"batch_size": 1024, "num_samples": 1000})
    assert err.value.field == "batch_size" and "at least" in str(err.value)
    sbs = catalog.get("small_batch_statistics").resolve("quick", {"asked_batch_sizes": [512]})
    assert sbs["num_samples"] == 5000  # 1,000 test samples hold a batch of 512


def test_split_sizes_match_the_generated_dataset(tmp_path, monkeypatch):
    from experiments import datasets

    monkeypatch.setenv("BNLAB_DATA_DIR", str(tmp_path))
    for n in (505, 1000):
        d = datasets.load("mnist1d", num_samples=n)
        assert datasets.split_sizes(n) == (len(d.y_train), len(d.y_test))


def test_the_edge_sweep_tries_limits_choices_and_flips():
    from experiments.bench_params import edge_values

    assert list(edge_values(Param("lr", "float", 0.1, "", min=1e-4, max=1.0))) == [1e-4, 1.0]
    assert list(edge_values(Param("epochs", "int", 5, "", min=1, max=500))) == [1]  # cost
    assert list(edge_values(Param("sizes", "int_list", [4], "", min=2, max=64))) == [[2], [64]]
    assert list(edge_values(Param("arms", "str_list", ["a"], "", choices=("a", "b")))) == [
        ["a"], ["b"]]
    assert list(edge_values(Param("flag", "bool", False, ""))) == [True]
