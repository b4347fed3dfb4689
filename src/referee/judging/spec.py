"""Who judges and how: :class:`JudgeSpec` (an endpoint, the local model or a reward model), read
from a YAML config with overrides, and the template and decoding settings a run uses.

Decoding settings a spec leaves None take the template's defaults (:func:`decoding`).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from referee.errors import InputError
from referee.judging.templates import Template, load
from referee.judging.types import Backend

MODES = ("pairwise", "pointwise")
#: other spellings accepted in a judge config
SPEC_ALIASES = {
    "base_url": "url", "judge_url": "url", "judge_model": "model", "api_key_env": "key_env",
    "judge_key_env": "key_env", "price_per_1k_input": "price_in", "price_per_1k_output": "price_out",
}  # fmt: skip


@dataclass
class JudgeSpec:
    """Who judges and how: an OpenAI-compatible endpoint (``url`` + ``model``), the local model, or a scorer.

    ``local``: None for HTTP; ``""`` for the default local model (SmolLM2), else a ``.gguf`` path.
    ``scorer``: a reward-model spec (``rm:DIR``, ``hf:PATH``, ``dpo:...``, ``length``, ``overlap``): the pair's
    verdict is ``prob_a = σ(r_a − r_b)`` from the two responses' rewards, no LLM call.
    ``price_in`` / ``price_out``: cost per 1,000 input / output tokens.  Decoding fields left None
    take the template's defaults.
    """

    url: str | None = None
    model: str | None = None
    key_env: str | None = None
    local: str | None = None
    template: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    price_in: float = 0.0
    price_out: float = 0.0
    timeout: float | None = None
    name: str | None = None
    extra_body: dict[str, Any] | None = None
    scorer: str | None = None

    @classmethod
    def from_config(cls, path: str | Path, **overrides: Any) -> JudgeSpec:
        """Read a YAML judge config; keyword overrides that are not None win."""
        import yaml

        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except (OSError, UnicodeDecodeError) as err:
            raise InputError(f"cannot read judge config: {err}", path=str(path)) from None
        except yaml.YAMLError as err:
            raise InputError(f"judge config is not valid YAML: {err}", path=str(path)) from None
        if not isinstance(data, dict):
            raise InputError("judge config must be a YAML mapping", path=str(path))
        data = data.get("judge", data) if isinstance(data.get("judge"), dict) else data
        return cls.from_dict(data, source=str(path)).updated(**overrides)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str | None = None) -> JudgeSpec:
        names = {f.name for f in fields(cls)}
        out: dict[str, Any] = {}
        for key, value in data.items():
            k = SPEC_ALIASES.get(str(key).replace("-", "_"), str(key).replace("-", "_"))
            if k not in names:
                raise InputError(f"unknown judge setting; known: {', '.join(sorted(names))}", path=source, field=str(key))
            out[k] = value
        if out.get("local") is True:
            out["local"] = ""
        elif out.get("local") is False:
            out["local"] = None
        return cls(**out)

    def updated(self, **overrides: Any) -> JudgeSpec:
        """A copy with the overrides that are not None applied (``judge="local[:PATH]"`` accepted)."""
        data = asdict(self)
        judge = overrides.pop("judge", None)
        if judge is not None and is_scorer_spec(judge):
            data["scorer"], data["local"] = judge, None
        elif judge is not None:
            data["local"], data["scorer"] = parse_local(judge), None
        data.update({k: v for k, v in overrides.items() if v is not None})
        return JudgeSpec(**data)

    @property
    def label(self) -> str:
        """The ``judge`` column: ``name``, else the model, else ``local:<gguf stem>``."""
        if self.name:
            return self.name
        if self.scorer is not None:
            return self.scorer
        if self.local is not None:
            return f"local:{Path(self.local).stem}" if self.local else "local:SmolLM2-135M-Instruct"
        return str(self.model)

    def backend(self) -> Backend:
        """The backend this spec names (imports the HTTP or local module only when needed)."""
        if self.scorer is not None:
            raise InputError(f"judge {self.scorer!r} is a reward model, not a chat backend", field="judge")
        if self.local is not None:
            from referee.judging.local import LocalBackend

            return LocalBackend(self.local or None)
        if not self.url or not self.model:
            missing = "`url=URL`" if not self.url else "`model=MODEL`"
            raise InputError(f"no judge: pass {missing} (or a YAML judge config, or the embedded model: `local='local'`)",
                             field="judge")
        key = None
        if self.key_env:
            key = os.environ.get(self.key_env)
            if not key:
                raise InputError(f"environment variable {self.key_env} (the judge's API key) is not set", field="judge_key_env")
        from referee.judging.http import OpenAIBackend

        return OpenAIBackend(
            self.url, self.model, api_key=key, timeout=self.timeout or 60.0, extra_body=self.extra_body, key_env=self.key_env
        )


def parse_local(value: str) -> str | None:
    """``--judge local`` -> "" (default model), ``local:PATH`` -> PATH; anything else is an error."""
    if value == "local":
        return ""
    if value.startswith("local:") and value[6:]:
        return value[6:]
    raise InputError(
        f"`local` takes 'local', 'local:PATH.gguf' or a reward model (rm:DIR, hf:PATH, dpo:POLICY,REF, length, overlap), got {value!r}",
        field="judge",
    )


#: ``--judge`` values that name a reward model (a :mod:`referee.scoring` scorer) instead of an LLM
SCORER_PREFIXES = ("rm:", "hf:", "dpo:", "length:")


def is_scorer_spec(value: Any) -> bool:
    """``length``, ``overlap``, ``rm:DIR``, ``hf:PATH``, ``dpo:...``: a reward model used as a pairwise judge."""
    return isinstance(value, str) and (value in ("length", "overlap", "dpo") or value.startswith(SCORER_PREFIXES))


def resolve(judge_spec: JudgeSpec | dict[str, Any] | str | Path) -> JudgeSpec:
    """A :class:`JudgeSpec` from a spec, a dict of its fields, ``local[:PATH]``, a reward model or a YAML path."""
    if isinstance(judge_spec, JudgeSpec):
        return judge_spec
    if isinstance(judge_spec, dict):
        return JudgeSpec.from_dict(judge_spec)
    if isinstance(judge_spec, str) and (judge_spec == "local" or judge_spec.startswith("local:")):
        return JudgeSpec(local=parse_local(judge_spec))
    if isinstance(judge_spec, str) and is_scorer_spec(judge_spec):
        return JudgeSpec(scorer=judge_spec)
    return JudgeSpec.from_config(judge_spec)


def from_options(config: str | Path | None = None, **overrides: Any) -> JudgeSpec:
    """The spec ``referee judge`` builds: a YAML config (if any) with the flags that are set on top.

    ``overrides`` are :class:`JudgeSpec` fields plus ``judge`` (``local``, ``local:PATH`` or a
    reward model); None means "not given".
    """
    return JudgeSpec.from_config(config, **overrides) if config else JudgeSpec().updated(**overrides)


def template(template: str | Path | Template | None, mode: str | None) -> Template:
    """The template of a run: the one named (or the spec's), else ``pairwise`` / ``pointwise-10`` by mode."""
    if mode is not None and mode not in MODES:
        raise InputError(f"mode must be one of {', '.join(MODES)}", field="mode")
    if template is None:
        template = "pointwise-10" if mode == "pointwise" else "pairwise"
    tpl = template if isinstance(template, Template) else load(template)
    if mode is not None and tpl.kind != mode:
        raise InputError(f"template {tpl.name!r} is a {tpl.kind} template but the mode is {mode}", field="template")
    return tpl


def decoding(spec: JudgeSpec, tpl: Template) -> dict[str, Any]:
    """The :class:`~referee.judging.types.ChatRequest` decoding fields: the spec's, else the template's.

    ``top_logprobs`` defaults to 5 when logprobs are asked for and neither names a number.
    """
    temperature = spec.temperature if spec.temperature is not None else (tpl.temperature or 0.0)
    want_lp = spec.logprobs if spec.logprobs is not None else tpl.logprobs
    return {
        "temperature": float(temperature),
        "max_tokens": int(spec.max_tokens or tpl.max_tokens),
        "logprobs": bool(want_lp),
        "top_logprobs": int(spec.top_logprobs or tpl.top_logprobs or 5) if want_lp else 0,
    }


__all__ = ["MODES", "JudgeSpec", "decoding", "from_options", "is_scorer_spec", "parse_local", "resolve", "template"]
