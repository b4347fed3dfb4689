"""Demo contestants: one local model answering the shipped prompts under different configurations.

A *contestant* is a system prompt plus decoding settings; the same small GGUF model plays every
contestant, so differences between them come from the configuration alone.  Responses go
through the judge :class:`~referee.judging.engine.Engine` with its cache, so a re-run is free.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from referee.errors import InputError
from referee.judging.types import Backend, ChatRequest, Usage


@dataclass(frozen=True)
class Contestant:
    """A named configuration of the local model."""

    name: str
    system: str
    temperature: float = 0.7
    max_tokens: int = 64

    def request(self, prompt: str, seed: int) -> ChatRequest:
        return ChatRequest(
            messages=(("system", self.system), ("user", prompt)),
            temperature=self.temperature,
            max_tokens=self.max_tokens,
            seed=seed,
        )


CONTESTANTS: tuple[Contestant, ...] = (
    Contestant(
        "concise-expert",
        "You are a concise expert. Answer accurately and directly in at most three sentences.",
        temperature=0.2,
    ),
    Contestant(
        "friendly-verbose",
        "You are a warm, enthusiastic assistant. Explain in detail, with an example, and encourage the user.",
        temperature=0.9,
    ),
    Contestant(
        "one-sentence",
        "Answer in exactly one short sentence.",
        temperature=0.0,
        max_tokens=40,
    ),
)


def data_path(name: str) -> Path:
    """A file shipped in ``referee/demo_data``."""
    return Path(str(resources.files("referee") / "demo_data" / name))


def load_prompts(path: str | Path | None = None, limit: int | None = None) -> pd.DataFrame:
    """The demo prompts (``prompt_id, prompt, category``): the shipped set or a JSONL file."""
    src = Path(path) if path is not None else data_path("prompts.jsonl")
    rows: list[dict[str, Any]] = []
    try:
        lines = src.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise InputError(f"cannot read prompts: {err.strerror or err}", path=str(src)) from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as err:
            raise InputError(f"not JSON: {err.msg}", path=str(src), line=n) from None
        if not isinstance(rec, dict) or not isinstance(rec.get("prompt"), str) or not rec["prompt"].strip():
            raise InputError("each line needs a non-empty string 'prompt'", path=str(src), line=n, field="prompt")
        rows.append({"prompt_id": str(rec.get("prompt_id") or f"p{n}"), "prompt": rec["prompt"], "category": rec.get("category")})
    if not rows:
        raise InputError("no prompts found", path=str(src))
    df = pd.DataFrame(rows)
    return df.head(limit).reset_index(drop=True) if limit else df


def generate_outputs(
    prompts: pd.DataFrame,
    backend: Backend,
    *,
    contestants: Sequence[Contestant] = CONTESTANTS,
    seed: int = 0,
    cache: Any = None,
    progress: Callable[[int, int, Usage], None] | None = None,
) -> tuple[pd.DataFrame, Usage]:
    """Every contestant's response to every prompt: ``prompt_id, prompt, model, response``.

    Requests run contestant by contestant (the shared system prompt stays in the model's KV cache);
    prompt ``i`` is sampled with seed ``seed + i``.  A failed call leaves its row out (the judge
    then skips that pair, see ``allow_missing``).
    """
    from referee.judging.engine import Engine

    jobs = [(c, i, rec) for c in contestants for i, rec in enumerate(prompts.to_dict("records"))]
    requests = [c.request(rec["prompt"], seed + i) for c, i, rec in jobs]
    engine = Engine(backend, cache=cache, concurrency=1, retries=0, timeout=600.0, progress=progress)
    results, usage = engine.run_sync(requests)
    rows = [
        {"prompt_id": rec["prompt_id"], "prompt": rec["prompt"], "model": c.name, "response": (r.text or "").strip()}
        for (c, _, rec), r in zip(jobs, results, strict=True)
        if r is not None and r.error is None and (r.text or "").strip()
    ]
    return pd.DataFrame(rows, columns=["prompt_id", "prompt", "model", "response"]), usage
