"""The one template tree and the one Jinja environment factory.

Every template ships under ``referee/templates/<kind>/``:

* ``report/`` — the self-contained HTML reports (leaderboards, audits), autoescaped;
* ``arena/`` — the arena's web pages, autoescaped;
* ``judge/`` — judge prompt templates (plain text sent to a model: never escaped, and an
  undefined variable is an error rather than an empty string);
* ``demo/`` — the demo's judge prompt (same conventions as ``judge/``).

:func:`environment` builds (once per kind) the Jinja environment with those conventions, so no
module configures Jinja on its own.  A leaf module: it imports only jinja2 (lazily).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from jinja2 import Environment

#: the root of the template tree
TEMPLATE_ROOT = Path(__file__).with_name("templates")

Kind = Literal["report", "arena", "judge", "demo"]
#: kinds whose output is HTML (autoescaped); the others are prompts sent to a model
HTML_KINDS = frozenset({"report", "arena"})


def template_dir(kind: Kind) -> Path:
    """The folder of one kind of template."""
    return TEMPLATE_ROOT / kind


@cache
def environment(kind: Kind) -> Environment:
    """The Jinja environment for one kind of template, loading from :func:`template_dir`.

    HTML kinds autoescape; prompt kinds use ``StrictUndefined`` and no escaping, and are also
    what :meth:`Environment.from_string` should compile user-supplied prompt templates with.
    """
    import jinja2

    loader = jinja2.FileSystemLoader(template_dir(kind))
    if kind in HTML_KINDS:
        return jinja2.Environment(loader=loader, autoescape=jinja2.select_autoescape(["html", "j2"]))
    return jinja2.Environment(loader=loader, undefined=jinja2.StrictUndefined, autoescape=False,
                              keep_trailing_newline=False)
