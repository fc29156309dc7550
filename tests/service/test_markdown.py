"""service/markdown.py: the subset renders, and nothing else gets through unescaped."""

from __future__ import annotations

import re

import pytest

from service.markdown import inline, to_html


def test_blocks():
    html = to_html("# Title\n\nA *short* **answer** with `x<y`.\n\n- one\n- two\n  wrapped\n\n"
                   "1. first\n2. second\n\n| arm | acc |\n|---|---:|\n| bn | 0.91 |\n\n"
                   "```\n<b>code</b>\n```\n\n> quoted", heading_offset=1)
    assert html.split("\n") == [
        "<h2>Title</h2>",
        "<p>A <em>short</em> <strong>answer</strong> with <code>x&lt;y</code>.</p>",
        "<ul><li>one</li><li>two wrapped</li></ul>",
        "<ol><li>first</li><li>second</li></ol>",
        "<table><thead><tr><th>arm</th><th>acc</th></tr></thead>"
        "<tbody><tr><td>bn</td><td>0.91</td></tr></tbody></table>",
        "<pre><code>&lt;b&gt;code&lt;/b&gt;</code></pre>",
        "<blockquote><p>quoted</p></blockquote>",
    ]


def test_links_keep_only_safe_urls():
    assert inline("[paper](https://arxiv.org/abs/1502.03167)") == \
        '<a href="https://arxiv.org/abs/1502.03167">paper</a>'
    assert inline("[x](javascript:alert)") == "x"
    assert inline("[x](//evil.example/)") == "x"
    assert inline('[x](https://a.b/"onmouseover="y)') == \
        '<a href="https://a.b/&quot;onmouseover=&quot;y">x</a>'


ALLOWED_TAGS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "table", "thead",
                "tbody", "tr", "th", "td", "pre", "code", "blockquote", "strong", "em", "a"}


@pytest.mark.parametrize("text", [
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "**<b>bold</b>**",
    "`<code>`", "[<i>label</i>](https://a.b)", "# <h1>", "- <li>", "| <td> |\n|---|\n| <x> |",
    "> <iframe>", "```\n</pre><script>\n```", "*<svg onload=x>*",
])
def test_markup_in_the_text_is_escaped(text):
    html = to_html(text)
    assert set(re.findall(r"<\s*/?\s*([a-zA-Z0-9]+)", html)) <= ALLOWED_TAGS
    assert not re.search(r"<(?!a href=)[a-z0-9]+ ", html)  # no attributes but a link's href


def test_snake_case_is_not_italic():
    assert inline("batch_size and running_mean") == "batch_size and running_mean"
