"""The learned scorer, its training and how route.py combines it with the patterns."""

from __future__ import annotations

import numpy as np
import pytest

from experiments import catalog
from service.router import decide, learned, route, train


def test_shipped_model_loads_and_gives_a_distribution():
    model = learned.load()
    assert model is not None, "service/router/data/model.npz is missing"
    assert set(model.classes) == set(catalog.ids()) | {learned.NONE}
    probs = model.probabilities("Should BN go before or after the ReLU?", "nn.ReLU()")
    assert sum(probs[c] for c in model.classes) == pytest.approx(1.0)
    assert 0.0 < probs[learned.NONE_BN] < 1.0
    assert max(model.classes, key=probs.get) == "activation_order"
    assert model.probabilities("")[learned.NONE] > 0  # no features: the bias alone


def test_features_are_words_pairs_character_grams_and_code_identifiers():
    feats = learned.features("Frozen batchnorm layers", "model.eval()")
    assert {"frozen", "frozen batchnorm", "#<fro", "#orm>", "c:eval"} <= feats


def test_training_is_deterministic_and_learns_a_toy_task(tmp_path):
    data = [("Why remove the bias before batch norm?", ["bias_redundancy"]),
            ("Is the conv bias useless before BN?", ["bias_redundancy"]),
            ("BN before or after the ReLU?", ["activation_order"]),
            ("Should batch norm go after the activation?", ["activation_order"]),
            ("How do I install CUDA?", [])] * 2
    first, second = train.fit(data, steps=60), train.fit(data, steps=60)
    assert np.array_equal(first["weights"], second["weights"])
    path = tmp_path / "toy.npz"
    learned.save(path, first)
    model = learned.load(path)
    probs = model.probabilities("is the bias useless before batch norm")
    assert max(model.classes, key=probs.get) == "bias_redundancy"


def test_the_second_model_learns_which_bn_posts_ask_nothing(tmp_path):
    data = [("Why remove the bias before batch norm?", ["bias_redundancy"]),
            ("Should batch norm go after the activation?", ["activation_order"]),
            ("Fix the batch norm export to ONNX", []),
            ("Fix a typo in the BatchNorm docstring", []),
            ("How do I install CUDA?", [])] * 2
    fitted = train.fit(data, steps=60)
    # Fitted on the posts that mention normalization only: the CUDA post is not among them,
    # so its words (in the shared vocabulary) carry no weight in the second model.
    assert fitted["bn_weights"].shape == (len(fitted["vocab"]), 2)
    cuda = fitted["vocab"].index("cuda")
    assert not fitted["bn_weights"][cuda].any() and fitted["weights"][cuda].any()
    learned.save(tmp_path / "toy.npz", fitted)
    model = learned.load(tmp_path / "toy.npz")
    report = model.probabilities("fix the batch norm docstring")[learned.NONE_BN]
    question = model.probabilities("why remove the bias before batch norm")[learned.NONE_BN]
    assert report > 0.5 > question


def test_without_a_model_the_patterns_decide_alone():
    picks = decide.choose({"weight_decay": 0.8}, None, in_bn=True)
    assert [(p.type, p.nearest) for p in picks] == [("weight_decay", False)]


def _probs(**given: float) -> dict[str, float]:
    rest = (1.0 - sum(given.values())) / (len(catalog.ids()) + 1 - len(given))
    probs = {t: rest for t in [*catalog.ids(), learned.NONE]}
    probs.update(given)
    return probs


def test_off_topic_needs_the_model_and_no_sure_pattern():
    assert decide.choose({}, _probs(none=0.9), in_bn=True) is None
    sure = decide.choose({"dropout_interaction": 0.9}, _probs(none=0.9), in_bn=True)
    assert [p.type for p in sure] == ["dropout_interaction"]


def test_for_a_bn_post_the_two_models_none_are_averaged():
    software = _probs(none=0.3, train_eval_gap=0.4) | {learned.NONE_BN: 0.8}
    assert decide.none_probability(software, in_bn=True) == pytest.approx(0.55)
    assert decide.choose({}, software, in_bn=True) is None
    asked = software | {learned.NONE_BN: 0.1}
    assert [p.type for p in decide.choose({}, asked, in_bn=True)] == ["train_eval_gap"]
    # A post that never names normalization: the second model was not fitted on such posts.
    assert decide.none_probability(software, in_bn=False) == pytest.approx(0.3)


def test_a_bn_post_no_pattern_places_gets_its_nearest_type():
    picks = decide.choose({}, _probs(train_eval_gap=0.6, none=0.1), in_bn=True)
    assert [(p.type, p.nearest) for p in picks] == [("train_eval_gap", True)]
    assert picks[0].confidence < decide.THRESHOLD


def test_a_second_pattern_ask_the_model_rules_out_is_dropped():
    probs = _probs(bias_redundancy=0.8, weight_decay=0.001, none=0.01)
    picks = decide.choose({"bias_redundancy": 0.7, "weight_decay": 0.45}, probs, in_bn=True)
    assert [p.type for p in picks] == ["bias_redundancy"]
    probs = _probs(bias_redundancy=0.5, weight_decay=0.3, none=0.01)
    picks = decide.choose({"bias_redundancy": 0.7, "weight_decay": 0.45}, probs, in_bn=True)
    assert [p.type for p in picks] == ["bias_redundancy", "weight_decay"]


def test_a_statement_only_tooling_post_no_pattern_places_is_off_topic():
    probs = _probs(norm_comparison=0.5, none=0.1)
    assert decide.choose({}, probs, in_bn=True, tooling=True, questions=False) is None
    asked = decide.choose({}, probs, in_bn=True, tooling=True, questions=True)
    assert [(p.type, p.nearest) for p in asked] == [("norm_comparison", True)]


def test_in_a_post_of_statements_the_strongest_type_comes_first():
    probs = _probs(deep_gradients=0.5, norm_comparison=0.2, none=0.05)
    rule = {"norm_comparison": 0.55, "deep_gradients": 0.58}
    stated = decide.choose(rule, probs, in_bn=True, questions=False)
    assert [p.type for p in stated] == ["deep_gradients", "norm_comparison"]
    asked = decide.choose(rule, probs, in_bn=True, questions=True)
    assert [p.type for p in asked] == ["norm_comparison", "deep_gradients"]


def test_route_flags_a_nearest_type_with_a_note():
    routing = route("Why is batch norm so weird? It does something odd to my features.")
    assert len(routing.asks) == 1 and routing.asks[0].nearest
    assert routing.not_understood and routing.not_understood[0].suggestions[0] == \
        routing.asks[0].type
