"""Tests for the arena's sanitised Markdown renderer."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from referee.arena.render import LINK_REL, is_safe_href, render_markdown

ALLOWED_TAGS = {
    "p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "pre", "code", "em", "strong", "a",
    "blockquote", "hr", "br", "table", "thead", "tbody", "tr", "th", "td", "s", "del",
}  # fmt: skip
ALIGN_STYLE = re.compile(r"text-align:(left|right|center)")
LANG_CLASS = re.compile(r"language-[A-Za-z0-9_+\-]+")


class _Collector(HTMLParser):
    """Records every tag and attribute of a rendered fragment."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.end_tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_endtag(self, tag: str) -> None:
        self.end_tags.append(tag)


def assert_safe(out: str) -> _Collector:
    """Check ``out`` against the tag/attribute allow-list; return the parsed tags."""
    low = out.lower()
    for needle in ("<script", "<img", "<iframe", "<svg", "<style", "<object", "<embed", 'href="javascript:'):
        assert needle not in low, (needle, out)
    for tag_text in re.findall(r"<[^<>]*>", out):
        assert not re.search(r"\son[a-z]+\s*=", tag_text, re.IGNORECASE), (tag_text, out)
    parser = _Collector()
    parser.feed(out)
    parser.close()
    assert set(parser.end_tags) <= ALLOWED_TAGS, out
    for tag, attrs in parser.tags:
        assert tag in ALLOWED_TAGS, (tag, out)
        for name, value in attrs:
            value = value or ""
            if tag == "a" and name == "href":
                assert value.lower().startswith(("http:", "https:", "mailto:", "#")), (value, out)
            elif tag == "a" and name == "rel":
                assert value == LINK_REL
            elif tag == "a" and name == "target":
                assert value == "_blank"
            elif tag == "code" and name == "class":
                assert LANG_CLASS.fullmatch(value), (value, out)
            elif tag in {"th", "td"} and name == "style":
                assert ALIGN_STYLE.fullmatch(value), (value, out)
            elif tag == "ol" and name == "start":  # markdown-it emits it for lists not starting at 1
                assert value.isdigit(), (value, out)
            else:
                pytest.fail(f"unexpected attribute {name}={value!r} on <{tag}> in {out!r}")
    return parser


def tag_names(out: str) -> list[str]:
    return [tag for tag, _ in assert_safe(out).tags]


# --- ordinary Markdown --------------------------------------------------------------------------


def test_headers_emphasis_and_lists() -> None:
    out = render_markdown("# Title\n\n## Sub\n\n- *a*\n- **b**\n\n1. one\n2. ~~two~~\n\n> quote\n\n---\n")
    assert {"h1", "h2", "ul", "ol", "li", "em", "strong", "s", "blockquote", "hr"} <= set(tag_names(out))
    assert "<h1>Title</h1>" in out
    assert "<s>two</s>" in out


def test_ordered_list_start_is_kept() -> None:
    out = render_markdown("3. three\n4. four\n")
    assert '<ol start="3">' in out
    assert_safe(out)


def test_code_fence_keeps_language_class() -> None:
    out = render_markdown("```python\nprint('<b>')\n```\n")
    assert out == "<pre><code class=\"language-python\">print('&lt;b&gt;')\n</code></pre>\n"
    assert_safe(out)


@pytest.mark.parametrize(
    ("info", "expected"),
    [
        ('py"><script>alert(1)</script>', "pyscriptalert1script"),
        ("c++ {.x}", "c++"),
        ("objective-c_2", "objective-c_2"),
        ("x onmouseover=alert(1)", "x"),
    ],
)
def test_code_fence_language_is_sanitised(info: str, expected: str) -> None:
    out = render_markdown(f"```{info}\ncode\n```\n")
    assert f'<code class="language-{expected}">' in out
    assert_safe(out)


def test_fence_without_or_with_unusable_language_has_no_class() -> None:
    assert render_markdown("```\nx\n```\n") == "<pre><code>x\n</code></pre>\n"
    assert render_markdown('```"<>\nx\n```\n') == "<pre><code>x\n</code></pre>\n"
    assert render_markdown("    indented <b>\n") == "<pre><code>indented &lt;b&gt;\n</code></pre>\n"


def test_table_with_alignment() -> None:
    out = render_markdown("| a | b | c |\n|:--|:-:|--:|\n| 1 | 2 | 3 |\n")
    names = tag_names(out)
    assert {"table", "thead", "tbody", "tr", "th", "td"} <= set(names)
    assert '<td style="text-align:right">3</td>' in out


def test_safe_links_get_rel_and_target() -> None:
    out = render_markdown(
        '[site](https://example.com/a?b=1&c=2 "title") <http://x.org> <me@example.com> [t](#top)'
    )
    assert f'<a href="https://example.com/a?b=1&amp;c=2" rel="{LINK_REL}" target="_blank">site</a>' in out
    assert 'href="http://x.org"' in out
    assert 'href="mailto:me@example.com"' in out
    assert 'href="#top"' in out
    assert out.count(f'rel="{LINK_REL}" target="_blank"') == 4
    assert "title=" not in out
    assert_safe(out)


def test_relative_and_other_scheme_links_are_refused() -> None:
    for md in (
        "[x](/api/vote?winner=a)",
        "[x](//evil.example/)",
        "[x](ftp://h/f)",
        "[x](file:///etc/passwd)",
    ):
        out = render_markdown(md)
        assert "<a" not in out, out
        assert_safe(out)


# --- hostile input ------------------------------------------------------------------------------

HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<iframe src="https://evil.example"></iframe>',
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    '<a href="javascript:alert(1)">x</a>',
    "<style>body{display:none}</style>",
    "- item <img src=x onerror=alert(1)>\n- <script>alert(1)</script>",
    "| a | b |\n|---|---|\n| <script>alert(1)</script> | <img src=x onerror=alert(1)> |\n",
    "<div onclick=alert(1)>\n\n*md*\n\n</div>",
    "<!-- <script>alert(1)</script> -->",
    "<![CDATA[<script>alert(1)</script>]]>",
    "<javascript:alert(1)>",
    "<JAVASCRIPT:alert(1)>",
    "<vbscript:msgbox(1)>",
    "<data:text/html,<script>alert(1)</script>>",
    "![a](http://evil/x.png)",
    '![a" onerror="alert(1)](http://evil/x.png "t")',
    "[![a](http://evil/x.png)](http://ok.example)",
    "[x][1]\n\n[1]: javascript:alert(1)",
    "[x][1]\n\n[1]: <javascript:alert(1)> 'title'",
    "![x][1]\n\n[1]: http://evil/track.gif",
    "```\n<script>alert(1)</script>\n```",
    '``` "><img src=x onerror=alert(1)>\ncode\n```',
    "`<img src=x onerror=alert(1)>`",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "&#60;script&#62;alert(1)&#60;/script&#62;",
    '[x](http://ok.example/"onmouseover="alert(1))',
    '[x](<http://ok.example/" onmouseover="alert(1)>)',
]

JS_LINKS = [
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x]( javascript:alert(1))",
    "[x](<java\tscript:alert(1)>)",
    "[x](java&#09;script:alert(1))",
    "[x](&#106;avascript:alert(1))",
    "[x](&#x6A;avascript&#x3A;alert(1))",
    "[x](javascript&colon;alert(1))",
    "[x](%6Aavascript:alert(1))",
    "[x](<javascript:alert(1)>)",
    "[x](javascript:alert(1) 'title')",
    "[x](\\javascript:alert(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[x](DATA:image/svg+xml,<svg/onload=alert(1)>)",
    "[x](vbscript:msgbox(1))",
    "[x](livescript:alert(1))",
]


@pytest.mark.parametrize("text", HOSTILE + JS_LINKS)
def test_hostile_input_is_neutralised(text: str) -> None:
    assert_safe(render_markdown(text))


@pytest.mark.parametrize("text", JS_LINKS)
def test_script_links_do_not_become_links(text: str) -> None:
    out = render_markdown(text)
    assert "<a" not in out, out
    assert "[x]" in out  # the refused link stays visible as its Markdown text


def test_raw_html_is_visible_as_text() -> None:
    out = render_markdown("Try <script>alert(1)</script> and <img src=x onerror=alert(1)>.")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert "&lt;img src=x onerror=alert(1)&gt;" in out
    block = render_markdown("<iframe src=x></iframe>\n")
    assert "&lt;iframe src=x&gt;&lt;/iframe&gt;" in block


def test_html_in_list_item_and_table_cell_is_text() -> None:
    out = render_markdown("- <b onclick=x>bold</b>\n")
    assert "<li>&lt;b onclick=x&gt;bold&lt;/b&gt;</li>" in out
    out = render_markdown("| h |\n|---|\n| <script>x</script> |\n")
    assert "<td>&lt;script&gt;x&lt;/script&gt;</td>" in out


def test_images_are_not_loaded() -> None:
    out = render_markdown('![a <b>](http://evil/x.png "t")')
    assert out == "<p>[image: a &lt;b&gt;](http://evil/x.png)</p>\n"
    out = render_markdown("![x](javascript:alert(1))")
    assert "<a" not in out
    assert_safe(out)


def test_reference_link_to_javascript_is_refused() -> None:
    out = render_markdown("[x][1]\n\n[1]: javascript:alert(1)")
    assert "<a" not in out
    assert "javascript:alert(1)" in out  # shown as text


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        " javascript:alert(1)",
        "\x00javascript:alert(1)",
        "\x01\x1f javascript:alert(1)",
        "java\tscript:alert(1)",
        "java\nscript:alert(1)",
        "java\rscript:alert(1)",
        "data:text/html,x",
        "vbscript:msgbox(1)",
        "/relative",
        "//evil.example",
        "",
    ],
)
def test_is_safe_href_refuses(url: str) -> None:
    assert not is_safe_href(url)


@pytest.mark.parametrize(
    "url", ["http://a", "HTTPS://A/b", " https://a", "ht\ttps://a", "mailto:me@x.org", "#frag", "#"]
)
def test_is_safe_href_accepts(url: str) -> None:
    assert is_safe_href(url)


# --- fuzzing ------------------------------------------------------------------------------------

FRAGMENTS = [
    "<script>", "</script>", "alert(1)", "<img src=x onerror=alert(1)>", "<iframe>", "<svg onload=alert(1)>",
    "javascript:", "JaVaScRiPt:", "java\tscript:", "data:text/html,", "vbscript:", "&#106;", "&colon;",
    "&#x3A;", "&lt;", "&", "<", ">", '"', "'", "`", "```", "~~~", "[", "]", "(", ")", "![", "](", "<http://",
    "http://ok.example/", "mailto:a@b.c", "#x", "[1]: ", "[1]", "\n", "\n\n", "    ", "\t", "- ", "1. ",
    "> ", "# ", "| a | b |\n|:-|-:|\n", "|", "*", "**", "_", "~~", "\\", "onmouseover=", "style=", " ",
    "x", "<a href=", "<!--", "-->", "<![CDATA[", "<?", "</", "\x00", "\u2028", "{", "}", "=",
]  # fmt: skip


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=40).map("".join))
def test_fuzz_dangerous_fragments_stay_within_allow_list(text: str) -> None:
    assert_safe(render_markdown(text))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_fuzz_arbitrary_text_stays_within_allow_list(text: str) -> None:
    assert_safe(render_markdown(text))


# --- caching ------------------------------------------------------------------------------------
SAMPLE = """## Answer

Here is a **quick** comparison of the two approaches, with a [reference](https://example.com/docs).

1. First, parse the input with `json.loads` and validate it.
2. Then ~~ignore~~ handle errors:
   - missing keys
   - wrong types

| approach | speed | memory |
|:---------|------:|:------:|
| naive    |  1.0x |  low   |
| cached   |  3.2x |  high  |

```python
def f(x: int) -> int:
    return x * 2  # <not html>
```

> Note: <script>alert(1)</script> is shown as text, and so is ![img](http://evil/x.png).

Finally, *emphasis* and a footnote-ish [link][1].

[1]: http://example.org/page
"""


def test_cached_and_large_inputs_render_the_same() -> None:
    text = SAMPLE * 40  # above the memoisation size limit
    assert render_markdown(SAMPLE) == render_markdown(SAMPLE)
    assert render_markdown(text).count("<table>") == 40
    assert_safe(render_markdown(text))
