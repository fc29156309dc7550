"""Malformed input gets a clear RouterInputError or an empty result, never a crash."""

from __future__ import annotations

import os

import pytest

from service.router import RouterInputError, Routing, route


@pytest.mark.parametrize("text", ["", "   \n\t  ", "?!?...", "> only a quote of someone else",
                                  "```\nprint('only code')\n```"])
def test_empty_or_contentless_text_gives_an_empty_routing(text):
    routing = route(text)
    assert isinstance(routing, Routing)
    assert routing.asks == [] and routing.not_understood == []


def test_one_megabyte_is_refused_with_the_limit_named():
    with pytest.raises(RouterInputError, match="200,000"):
        route("why does batch norm work? " * 40_000)


@pytest.mark.parametrize("garbage", [
    os.urandom(4096).decode("latin-1"),
    os.urandom(4096).decode("utf-8", errors="replace"),
    "text with a NUL\x00 inside",
])
def test_binary_garbage_is_refused(garbage):
    with pytest.raises(RouterInputError, match="binary"):
        route(garbage)


@pytest.mark.parametrize("value", [b"BN before ReLU?", None, 42])
def test_non_text_is_refused(value):
    with pytest.raises(RouterInputError, match="expected text"):
        route(value)


def test_router_input_error_is_a_value_error():
    assert issubclass(RouterInputError, ValueError)


@pytest.mark.parametrize("html", [
    "<p>Should BN go <b>before <i>or after ReLU?</p></div></blockquote>",
    "<div><div><p>Should BN go before or after ReLU?",
    "<p>Should BN go before or after ReLU?</p><aside class='quote'><blockquote>never closed",
    "<p>Should BN go before or after ReLU?</p></aside></aside><p",
])
def test_unbalanced_html_still_routes_the_askers_question(html):
    assert [a.type for a in route(html).asks] == ["activation_order"]


def test_unclosed_code_fence_swallows_only_the_code():
    routing = route("Why drop the bias before BN?\n\n```python\nconv = nn.Conv2d(3, 8, 3)\n")
    assert [a.type for a in routing.asks] == ["bias_redundancy"]


def test_a_wall_of_questions_is_refused():
    with pytest.raises(RouterInputError, match="limit"):
        route("Why BN? " * 5_000)


# Shapes that cost quadratic time in a careless implementation (typo repair of one huge "word",
# a regex rescanning a run of letters, deeply nested tags). Sizes are kept moderate so the
# suite stays fast; a regression shows up as a hang, not as a timing figure.
@pytest.mark.parametrize("text", ["x" * 60_000, "**" + "a" * 60_000, "<" * 60_000,
                                  "\u03b2 \u03b3 " * 10_000, "<div>" * 5_000 + "BN?"])
def test_long_degenerate_text_under_the_limit_is_handled(text):
    assert isinstance(route(text), Routing)
