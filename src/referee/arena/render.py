"""Sanitised Markdown → HTML for untrusted model responses shown in the arena.

Everything goes through one module-level markdown-it-py parser (CommonMark + GFM tables and
strikethrough) with raw HTML disabled, so tags written by a model are escaped and shown as text.
On top of markdown-it's defaults:

* links pass only if absolute ``http:``/``https:``/``mailto:`` or a ``#fragment`` (relative paths
  are refused: in a model response they would point at the arena itself); a refused link stays
  visible as its literal Markdown text;
* every ``<a>`` carries ``rel="nofollow noopener noreferrer" target="_blank"`` and no other
  attribute than ``href`` (titles are dropped);
* images never become ``<img>``: they render as the escaped text ``[image: alt](url)``, so showing
  a response cannot make the voter's browser fetch anything;
* fenced code keeps ``class="language-xxx"`` with ``xxx`` reduced to ``[A-Za-z0-9_+-]``.

The only attributes that can appear are ``href``/``rel``/``target`` on ``a``, ``class`` on
``code``, ``style="text-align:…"`` on table cells and a numeric ``start`` on ``ol``.

Renders are memoised (the arena shows the same texts again and again): texts up to
:data:`_CACHE_MAX_CHARS` in an LRU of 8,192 entries, longer ones in an LRU bounded by
:data:`_BIG_CACHE_CHARS` characters of source text.  Rendering a long text takes a while (a 2 MB
response, about half a second), so the server renders those in a thread first
(:func:`is_rendered` tells it which) and the request then finds them here.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from functools import lru_cache

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml, unescapeAll
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

__all__ = ["is_rendered", "is_safe_href", "render_markdown"]

LINK_REL = "nofollow noopener noreferrer"
_SAFE_PREFIXES = ("http:", "https:", "mailto:", "#")
# What a WHATWG URL parser ignores: C0 controls and space at either end, tab/LF/CR anywhere.
_EDGE_JUNK = "".join(chr(c) for c in range(0x21))
_INNER_JUNK = re.compile(r"[\t\n\r]")
_LANG_JUNK = re.compile(r"[^A-Za-z0-9_+\-]")
_MAX_LANG = 32
_CACHE_MAX_CHARS = 16_384  # responses up to this size are memoised (same battle shown again)
_BIG_CACHE_CHARS = 32_000_000  # longer ones: at most this many characters of source text in all


def is_safe_href(url: str) -> bool:
    """True if ``url`` is an absolute http/https/mailto URL or a ``#fragment``.

    The check runs on the URL as a browser would read it (surrounding controls/spaces stripped,
    tabs and newlines removed, case folded), so ``" JaVa\\tScRiPt:"`` is refused.
    """
    cleaned = _INNER_JUNK.sub("", url.strip(_EDGE_JUNK)).lower()
    return cleaned.startswith(_SAFE_PREFIXES)


class _SafeMarkdownIt(MarkdownIt):
    """MarkdownIt whose link/image/autolink destinations must pass :func:`is_safe_href`."""

    def validateLink(self, url: str) -> bool:
        return is_safe_href(url)


def _link_open(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    token = tokens[idx]
    href = token.attrGet("href")
    token.attrs = {}
    if href is not None and is_safe_href(str(href)):  # validateLink already ran; belt and braces
        token.attrs["href"] = str(href)
    token.attrs["rel"] = LINK_REL
    token.attrs["target"] = "_blank"
    return self.renderToken(tokens, idx, options, env)


def _image(self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    token = tokens[idx]
    alt = self.renderInlineAsText(token.children, options, env)
    src = str(token.attrGet("src") or "")
    return escapeHtml(f"[image: {alt}]({src})")


def _fence(self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    token = tokens[idx]
    words = unescapeAll(token.info).split(maxsplit=1)
    lang = _LANG_JUNK.sub("", words[0])[:_MAX_LANG] if words else ""
    cls = f' class="language-{lang}"' if lang else ""
    return f"<pre><code{cls}>{escapeHtml(token.content)}</code></pre>\n"


def _code_block(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    return f"<pre><code>{escapeHtml(tokens[idx].content)}</code></pre>\n"


def _html_as_text(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    # Unreachable with html=False; kept so that enabling raw HTML by mistake still escapes it.
    return escapeHtml(tokens[idx].content)


def _build() -> MarkdownIt:
    md = _SafeMarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.add_render_rule("link_open", _link_open)
    md.add_render_rule("image", _image)
    md.add_render_rule("fence", _fence)
    md.add_render_rule("code_block", _code_block)
    md.add_render_rule("html_block", _html_as_text)
    md.add_render_rule("html_inline", _html_as_text)
    return md


_MD = _build()


@lru_cache(maxsize=8192)  # the arena renders the same prompts and responses again and again
def _render_cached(text: str) -> str:
    return str(_MD.render(text))


class _BigCache:
    """An LRU of renders of long texts, bounded by the total length of their sources (thread-safe)."""

    def __init__(self, max_chars: int) -> None:
        self.max_chars, self.chars = max_chars, 0
        self.items: OrderedDict[str, str] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, text: str) -> str | None:
        with self.lock:
            html = self.items.get(text)
            if html is not None:
                self.items.move_to_end(text)
            return html

    def put(self, text: str, html: str) -> None:
        if len(text) > self.max_chars:
            return
        with self.lock:
            if text not in self.items:
                self.items[text] = html
                self.chars += len(text)
            while self.chars > self.max_chars:
                old, _ = self.items.popitem(last=False)
                self.chars -= len(old)


_BIG = _BigCache(_BIG_CACHE_CHARS)


def is_rendered(text: str) -> bool:
    """Whether :func:`render_markdown` answers ``text`` at once: short (memoised on first use; cheap
    anyway) or long and already rendered."""
    return len(text) <= _CACHE_MAX_CHARS or _BIG.get(text) is not None


def render_markdown(text: str) -> str:
    """Untrusted Markdown → safe HTML (see the module docstring for what is allowed)."""
    if len(text) <= _CACHE_MAX_CHARS:
        return _render_cached(text)
    html = _BIG.get(text)
    if html is None:
        html = str(_MD.render(text))
        _BIG.put(text, html)
    return html
