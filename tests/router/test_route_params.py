"""Settings stated in a question: read into canonical names, validated, never guessed."""

from __future__ import annotations

import pytest

from experiments.params import Param, Schema
from service.router import params as router_params
from service.router import route


@pytest.fixture
def no_schemas(monkeypatch):
    """Every type planned, so the canonical values come back as read."""
    monkeypatch.setattr(router_params, "schema_for", lambda type_id: None)


@pytest.fixture
def strict_schema(monkeypatch):
    """Every type has this schema, so validation against a schema can be checked."""
    schema = Schema((
        Param("batch_sizes", "int_list", [32], "batch sizes", 2, 512),
        Param("lr", "float", 0.01, "learning rate", 1e-5, 1.0),
        Param("optimizer", "str", "sgd", "optimizer", choices=("sgd", "adam")),
        Param("depth", "int", 3, "hidden layers", 1, 6),
    ))
    monkeypatch.setattr(router_params, "schema_for", lambda type_id: schema)


def only_ask(text: str):
    routing = route(text)
    assert len(routing.asks) == 1, routing.to_json()
    return routing.asks[0]


def test_generic_parameters_are_read(no_schemas):
    ask = only_ask("With a batch size of 32, SGD at lr=0.01 and an MLP on MNIST-1D, does batch "
                   "norm let me use a higher learning rate?")
    assert ask.type == "learning_rate"
    assert ask.params == {"batch_size": 32, "lr": 0.01, "optimizer": "sgd", "model": "mlp",
                          "dataset": "mnist1d"}
    assert ask.param_errors == {}


@pytest.mark.parametrize(("text", "expected"), [
    ("bs=2 and BN stats look like garbage, why not use running averages in training?", 2),
    ("With batches of 8, why not use the running averages during training?", 8),
    ("Only 4 images per GPU: why not use running averages during training for BN?", 4),
    ("Batch sizes 2, 4 and 8: why not normalize with running averages during training?",
     [2, 4, 8]),
])
def test_batch_size_phrasings(no_schemas, text, expected):
    ask = only_ask(text)
    assert ask.type == "small_batch_statistics"
    assert ask.params["batch_size"] == expected


def test_an_example_number_is_a_note_not_a_setting(no_schemas):
    ask = only_ask("With a small batch (say 16 samples), why not use the running averages "
                   "during training?")
    assert "batch_size" not in ask.params
    assert any("16" in note and "example" in note for note in ask.notes)


def test_a_comparison_does_not_choose_an_optimizer(no_schemas):
    ask = only_ask("Does batch norm widen the range of usable learning rates more for SGD or "
                   "for Adam?")
    assert "optimizer" not in ask.params
    assert any("several" in note for note in ask.notes)


def test_unreadable_and_impossible_values_are_reported_not_guessed(no_schemas):
    ask = only_ask("Does dropout of 1.5 with bs=lots hurt batch norm?")
    assert ask.type == "dropout_interaction"
    assert "batch_size" not in ask.params and "dropout" not in ask.params
    assert "lots" in ask.param_errors["batch_size"]
    assert "[0, 1)" in ask.param_errors["dropout"]


def test_optimizer_bnlab_cannot_run_is_reported(no_schemas):
    ask = only_ask("Trained with RMSprop: does batch norm still allow a higher learning rate?")
    assert "optimizer" not in ask.params
    assert "rmsprop" in ask.param_errors["optimizer"]


def test_values_are_validated_against_the_schema(strict_schema):
    ask = only_ask("With bs=16 and Adam at lr 0.001, why not use the running averages during "
                   "training instead of the batch statistics?")
    assert ask.params == {"batch_sizes": [16], "optimizer": "adam", "lr": 0.001}
    assert ask.param_errors == {}


def test_out_of_range_value_is_reported_not_clipped(strict_schema):
    ask = only_ask("With a batch size of 1024 and a learning rate of 5, why not use the running "
                   "averages during training?")
    assert "batch_sizes" not in ask.params and "lr" not in ask.params
    assert "1024" in ask.param_errors["batch_sizes"]
    assert "maximum" in ask.param_errors["batch_sizes"]
    assert "maximum" in ask.param_errors["lr"]


def test_several_values_for_a_one_value_parameter_are_reported(strict_schema):
    ask = only_ask("Does batch norm allow higher learning rates of 0.1 and 1?")
    assert "lr" not in ask.params
    assert "several values" in ask.param_errors["lr"]


def test_a_value_the_schema_has_no_parameter_for_is_dropped_with_a_note(strict_schema):
    ask = only_ask("On CIFAR-10 with batch size 8, why not use running averages during "
                   "training?")
    assert ask.params == {"batch_sizes": [8]}
    assert any(note.startswith("dataset") for note in ask.notes)


def test_settings_stated_before_the_questions_apply_to_every_ask(no_schemas):
    text = ("I train a small CNN with a batch size of 4.\n\n"
            "1. Should BN go before or after ReLU?\n"
            "2. Why does dropout hurt my BN network?")
    asks = route(text).asks
    assert [a.type for a in asks] == ["activation_order", "dropout_interaction"]
    for ask in asks:
        assert ask.params["batch_size"] == 4
        assert ask.params["model"] == "cnn"


def test_an_opening_setting_that_does_not_fit_a_type_is_a_note(strict_schema):
    text = ("I train a 20-layer MLP.\n\n"
            "With batch size 8, why not use running averages during training?")
    ask = only_ask(text)
    assert ask.params == {"batch_sizes": [8]}
    assert ask.param_errors == {}
    assert any(note.startswith("depth") and "not used" in note for note in ask.notes)


@pytest.mark.parametrize(("text", "name", "value"), [
    ("With batch size -16, why not use the running averages during training?", "batch_size",
     "-16"),
    ("Does batch norm allow higher learning rates? With lr nan it diverged.", "lr", "nan"),
    ("Does batch norm allow higher learning rates? I set lr=inf.", "lr", "inf"),
])
def test_an_unusable_value_is_a_visible_note_never_a_setting(text, name, value):
    ask = route(text).asks[0]
    assert name not in ask.params and not ask.param_errors
    assert any(n.startswith(f"{name}: '{value}' is not usable") for n in ask.notes)
