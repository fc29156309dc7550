"""Code and tracebacks are split off a post: evidence for the scorer, never prose or excerpts."""

from __future__ import annotations

from service.router import evidence, route

POST = """I train a ResNet and validation accuracy collapses. Here is my block:
    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return out
model.eval()
Traceback (most recent call last):
  File "train.py", line 12, in <module>
ValueError: Expected more than 1 value per channel when training
lr=0.01 and batch size=4 gives bad results
Why does accuracy drop after model.eval()?
"""


def test_code_and_traceback_lines_leave_the_prose():
    prose, code = evidence.split(POST)
    assert "F.relu" in code and "Traceback" in code and "Expected more than 1" in code
    assert "model.eval()\n" in code
    for kept in ("I train a ResNet", "lr=0.01 and batch size=4 gives bad results",
                 "Why does accuracy drop after model.eval()?"):
        assert kept in prose
    assert "def forward" not in prose and "File \"train.py\"" not in prose


def test_fences_and_html_blocks_are_code_inline_code_is_prose():
    prose, code = evidence.split("Set `bias=False`?\n```\nx = bn(conv(x))\n```\nThanks")
    assert "x = bn(conv(x))" in code and "bias=False" in prose
    html = "<p>Is <code>affine=False</code> ok?</p><pre><code>bn = nn.BatchNorm2d(8)\n</code></pre>"
    prose, code = evidence.split(html)
    assert "nn.BatchNorm2d(8)" in code and "affine=False" in prose


def test_identifiers_are_split_into_their_parts():
    assert evidence.tokens("nn.SyncBatchNorm(64)") == ["nn", "syncbatchnorm", "sync", "batch",
                                                       "norm"]


def test_an_excerpt_never_quotes_code():
    routing = route(POST)
    # The question is about eval(); the pasted "Expected more than 1 value per channel" may add
    # small_batch_statistics after it, and neither ask may quote the code.
    assert routing.asks[0].type == "train_eval_gap"
    assert {a.type for a in routing.asks} <= {"train_eval_gap", "small_batch_statistics"}
    for ask in routing.asks:
        assert "def forward" not in ask.excerpt and "Traceback" not in ask.excerpt


TRACEBACK_ONLY = """Training crashes on the last batch

Can anyone tell me what is going wrong here? It worked yesterday with the other dataset.

Traceback (most recent call last):
  File "fit.py", line 40, in <module>
    out = net(x)
ValueError: Expected more than 1 value per channel when training, got input size [1, 256]
"""


def test_exception_messages_are_read_from_the_code():
    _, code = evidence.split(TRACEBACK_ONLY)
    assert evidence.error_messages(code) == [
        "Expected more than 1 value per channel when training, got input size [1, 256]"]
    assert evidence.error_messages("x = bn(x)\nprint(x)") == []


def test_an_exception_message_places_a_post_whose_prose_says_nothing():
    routing = route(TRACEBACK_ONLY)
    assert [a.type for a in routing.asks] == ["small_batch_statistics"]
    # Placed by the message itself, not only as the learned scorer's nearest guess.
    assert routing.asks[0].confidence >= 0.4 and not routing.not_understood
    assert "Expected more than 1" not in routing.asks[0].excerpt
    assert "going wrong" in routing.asks[0].excerpt
