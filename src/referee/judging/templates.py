"""Judge prompt templates: Jinja2 files that declare how their answers are parsed.

A template is one ``.j2`` file.  It opens with a front-matter block, either a Jinja
comment ``{# referee: <YAML> #}`` (the file stays valid Jinja) or YAML between two
``---`` lines, then holds up to two Jinja blocks: ``{% block system %}`` (the system
message; optional) and ``{% block user %}`` (the user message; without blocks the
whole body is the user message).  Variables: ``prompt``, ``response_a``, ``response_b``
(pairwise), ``response`` (pointwise) and ``reference`` (None when there is none).

Front-matter keys:

``kind``          ``pairwise`` or ``pointwise``
``parser``        ``regex`` (the last match of ``pattern`` wins; a list of patterns is
                  tried in order) or ``logprob`` (the first non-blank answer token is the
                  verdict; its top-logprob alternatives give the probabilities)
``pattern``       regex with one capture group holding the verdict label / rating
``labels``        pairwise: label -> ``model_a`` | ``model_b`` | ``tie`` | ``tie (bothbad)``,
                  or ``[winner, strength]`` for graded verdicts
``scale``         pointwise: ``[low, high]`` (integers)
``reference``     ``none`` (default), ``optional`` or ``required``
``max_tokens``, ``logprobs``, ``top_logprobs``, ``temperature``: decoding defaults
``case_sensitive`` compare labels case-sensitively (default: only when labels differ
                  by case alone)
``min_verdict_mass`` logprob parser: when the answer token is not a verdict, read the verdict
                  from the verdict tokens among its alternatives if they hold at least this
                  probability (default 0.01); below it the answer is ``unparsed``
``description``   one line shown by ``available()``
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from referee.errors import InputError
from referee.templating import environment, template_dir

#: the winner labels of :mod:`referee.schema`, repeated here so the judge starts without pandas
MODEL_A, MODEL_B, TIE, TIE_BOTHBAD = "model_a", "model_b", "tie", "tie (bothbad)"
WINNERS: tuple[str, ...] = (MODEL_A, MODEL_B, TIE, TIE_BOTHBAD)

TEMPLATE_DIR = template_dir("judge")
KINDS = ("pairwise", "pointwise")
PARSERS = ("regex", "logprob")
_COMMENT_FM = re.compile(r"\A\s*\{#-?\s*referee:\s*(.*?)\s*-?#\}[ \t]*\n?", re.S)
_YAML_FM = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*\n", re.S)


@dataclass(frozen=True)
class Template:
    """A loaded judge template: its messages (Jinja source) and how to read the answers."""

    name: str
    source: str  # the Jinja body, front matter removed
    kind: str = "pairwise"
    parser: str = "regex"
    patterns: tuple[str, ...] = ()
    labels: dict[str, tuple[str, int | None]] = field(default_factory=dict)
    scale: tuple[int, int] | None = None
    reference: str = "none"
    max_tokens: int = 1024
    logprobs: bool = False
    top_logprobs: int = 0
    temperature: float | None = None
    case_sensitive: bool = False
    min_verdict_mass: float = 0.01
    description: str = ""
    path: str | None = None

    @cached_property
    def _jinja(self) -> Any:
        import jinja2

        try:
            return environment("judge").from_string(self.source)
        except jinja2.TemplateSyntaxError as err:
            raise InputError(f"template syntax error: {err.message}", path=self.path or self.name, line=err.lineno) from None

    @cached_property
    def compiled(self) -> tuple[re.Pattern[str], ...]:
        flags = 0 if self.case_sensitive else re.IGNORECASE
        return tuple(re.compile(p, flags) for p in self.patterns)

    @property
    def graded(self) -> bool:
        return any(s is not None and s > 0 for _, s in self.labels.values())

    def render(self, **variables: Any) -> tuple[tuple[str, str], ...]:
        """The chat messages ``((role, content), ...)`` for one judge call."""
        import jinja2

        variables.setdefault("reference", None)
        if self.reference == "required" and variables["reference"] is None:
            raise InputError(f"template {self.name!r} needs a reference answer", path=self.path, field="reference")
        tpl = self._jinja
        try:
            ctx = tpl.new_context(variables)
            if "user" in tpl.blocks:
                system = "".join(tpl.blocks["system"](ctx)).strip() if "system" in tpl.blocks else ""
                ctx = tpl.new_context(variables)
                user = "".join(tpl.blocks["user"](ctx)).strip()
            else:
                system, user = "", tpl.render(variables).strip()
        except jinja2.UndefinedError as err:
            raise InputError(f"template uses an undefined variable: {err.message}", path=self.path or self.name) from None
        msgs = ((("system", system),) if system else ()) + (("user", user),)
        return msgs


def available() -> dict[str, str]:
    """Shipped template names -> one-line descriptions."""
    return {p.stem: load(p.stem).description for p in sorted(TEMPLATE_DIR.glob("*.j2"))}


def load(name_or_path: str | Path) -> Template:
    """A shipped template by name (``pairwise``, ``pairwise-graded``, ...) or a ``.j2`` file by path."""
    text_path = Path(name_or_path)
    shipped = TEMPLATE_DIR / f"{name_or_path}.j2"
    if isinstance(name_or_path, str) and "/" not in name_or_path and shipped.is_file():
        path = shipped
    elif text_path.is_file():
        path = text_path
    else:
        names = ", ".join(p.stem for p in sorted(TEMPLATE_DIR.glob("*.j2")))
        raise InputError(f"no template {str(name_or_path)!r}: not a shipped name ({names}) nor a file", field="template")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read template: {err}", path=str(path)) from None
    return parse_template(text, name=path.stem, path=str(path))


def parse_template(text: str, *, name: str = "<template>", path: str | None = None) -> Template:
    """Split front matter from body and check the declared parser."""
    import yaml

    where = path or name
    m = _COMMENT_FM.match(text) or _YAML_FM.match(text)
    if m is None:
        raise InputError(
            "template has no front matter: start it with {# referee: kind: ..., parser: ... #} "
            "or YAML between --- lines",
            path=where,
        )
    try:
        meta = yaml.safe_load(m.group(1)) or {}
    except yaml.YAMLError as err:
        raise InputError(f"front matter is not valid YAML: {err}", path=where) from None
    if not isinstance(meta, dict):
        raise InputError("front matter must be a mapping", path=where)
    body = text[m.end() :]
    return _from_meta(meta, body, name, path)


def _from_meta(meta: dict[str, Any], body: str, name: str, path: str | None) -> Template:
    where = path or name

    def bad(msg: str, key: str) -> InputError:
        return InputError(msg, path=where, field=key)

    known = {
        "kind", "parser", "pattern", "labels", "scale", "reference", "max_tokens", "logprobs",
        "top_logprobs", "temperature", "case_sensitive", "min_verdict_mass", "description",
    }
    unknown = sorted(set(meta) - known)
    if unknown:
        raise bad(f"unknown front-matter key(s): {', '.join(unknown)}", unknown[0])
    kind = meta.get("kind", "pairwise")
    parser = meta.get("parser", "regex")
    if kind not in KINDS:
        raise bad(f"kind must be one of {', '.join(KINDS)}", "kind")
    if parser not in PARSERS:
        raise bad(f"parser must be one of {', '.join(PARSERS)}", "parser")
    pats = meta.get("pattern")
    patterns = tuple([pats] if isinstance(pats, str) else pats or [])
    if parser == "regex" and not patterns:
        raise bad("a regex parser needs a pattern", "pattern")
    for p in patterns:
        try:
            re.compile(p)
        except (re.error, TypeError) as err:
            raise bad(f"invalid regex {p!r}: {err}", "pattern") from None
    labels: dict[str, tuple[str, int | None]] = {}
    for label, value in (meta.get("labels") or {}).items():
        if isinstance(value, str):
            winner, strength = value, None
        elif isinstance(value, list | tuple) and 1 <= len(value) <= 2:
            winner, strength = value[0], (value[1] if len(value) == 2 else None)
        else:
            raise bad(f"label {label!r}: expected a winner or [winner, strength], got {value!r}", "labels")
        if winner not in WINNERS:
            raise bad(f"label {label!r} maps to {winner!r}; expected one of {', '.join(WINNERS)}", "labels")
        if strength is not None and strength not in (0, 1, 2):
            raise bad(f"label {label!r}: strength must be 0, 1 or 2", "labels")
        labels[str(label)] = (winner, strength)
    scale = meta.get("scale")
    if kind == "pairwise" and not labels:
        raise bad("a pairwise template needs labels (verdict -> model_a / model_b / tie)", "labels")
    if kind == "pointwise":
        if not (isinstance(scale, list | tuple) and len(scale) == 2 and all(isinstance(v, int) for v in scale)):
            raise bad("a pointwise template needs scale: [low, high] (integers)", "scale")
        scale = (int(scale[0]), int(scale[1]))
        if scale[0] >= scale[1]:
            raise bad("scale must be [low, high] with low < high", "scale")
    reference = str(meta.get("reference", "none"))
    if reference not in ("none", "optional", "required"):
        raise bad("reference must be none, optional or required", "reference")
    if reference == "none" and re.search(r"\breference\b", body):
        reference = "optional"  # the body uses it: hand it over when there is one
    folded = {k.casefold() for k in labels}
    case_sensitive = bool(meta.get("case_sensitive", len(folded) < len(labels)))
    logprobs = bool(meta.get("logprobs", parser == "logprob"))
    return Template(
        name=name,
        source=body,
        kind=kind,
        parser=parser,
        patterns=patterns,
        labels=labels,
        scale=scale if kind == "pointwise" else None,
        reference=reference,
        max_tokens=int(meta.get("max_tokens", 1 if parser == "logprob" else 1024)),
        logprobs=logprobs,
        top_logprobs=int(meta.get("top_logprobs", 10 if logprobs else 0)),
        temperature=None if meta.get("temperature") is None else float(meta["temperature"]),
        case_sensitive=case_sensitive,
        min_verdict_mass=float(meta.get("min_verdict_mass", 0.01)),
        description=str(meta.get("description", "")),
        path=path,
    )
