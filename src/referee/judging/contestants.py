"""Demo contestants: a known quality ladder built from one local model's own answers.

The local model (:data:`ANSWERER`: a system prompt plus decoding settings) answers each shipped
prompt once, through the judge :class:`~referee.judging.engine.Engine` with its cache, so a re-run
is free.  :func:`build_ladder` then derives the contestants from those answers, so that their true
order is known *by construction* (:data:`LADDER`, best first):

* ``full`` -- the model's complete answer (cut back to its last complete sentence when the token
  limit stopped it mid-sentence);
* ``truncated`` -- the same answer cut to its first quarter of words (at least
  :data:`MIN_WORDS`): on topic, but incomplete;
* ``off-topic`` -- the model's full answer to a *different* prompt of the set (a seeded
  derangement, preferring a prompt of another category): fluent, but answers the wrong question.

An evaluation method that works should rank them ``full > truncated > off-topic``; how close a
judge comes is measured with Kendall's τ against this order (:mod:`referee.demo`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
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


#: the one configuration that answers every prompt; the ladder's rungs are cut from its answers
ANSWERER = Contestant(
    "answerer",
    "You are a helpful assistant. Answer the question accurately and completely in a few sentences.",
    temperature=0.2,
    max_tokens=96,
)
#: the ladder's rungs, best first: the true order by construction
LADDER: tuple[str, ...] = ("full", "truncated", "off-topic")
#: the truncated rung keeps at least this many words
MIN_WORDS = 3
#: how the ladder's rungs are made, for the report
RUNGS: dict[str, str] = {
    "full": "the model's complete answer (cut back to its last complete sentence)",
    "truncated": "the same answer cut to its first quarter of words",
    "off-topic": "the model's complete answer to a different prompt of the set",
}


def full_answer(text: str) -> str:
    """``text`` without a trailing unfinished sentence: cut after its last ``.``, ``!`` or ``?``
    (followed by whitespace or the end) when that lies in the second half of the text."""
    text = text.strip()
    ends = [m.end() for m in re.finditer(r"[.!?](?=\s|$)", text)]
    return text[: ends[-1]] if ends and ends[-1] >= len(text) / 2 else text


def truncate(text: str, share: float = 0.25) -> str:
    """The first ``share`` of ``text``'s whitespace-separated words (rounded up, at least
    :data:`MIN_WORDS`, never the whole text when it has more than one word)."""
    words = text.split()
    keep = min(max(MIN_WORDS, math.ceil(share * len(words))), max(1, len(words) - 1))
    return " ".join(words[:keep])


def derangement(categories: Sequence[Any], seed: int = 0, tries: int = 200) -> list[int]:
    """For each item ``i`` another item ``j != i``: a seeded cycle through a random permutation
    (so no item maps to itself); among ``tries`` permutations the first whose every ``i`` maps
    to an item of another category, else the one with the fewest same-category pairs."""
    n = len(categories)
    if n < 2:
        raise InputError("the off-topic rung needs at least 2 prompts", field="prompts")
    rng = np.random.default_rng(seed)
    best: list[int] = []
    best_same = n + 1
    for _ in range(tries):
        order = rng.permutation(n)
        target = [0] * n
        for k in range(n):
            target[int(order[k])] = int(order[(k + 1) % n])
        same = sum(categories[i] == categories[target[i]] for i in range(n))
        if same < best_same:
            best, best_same = target, same
        if same == 0:
            break
    return best


def build_ladder(answers: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """The contestants' outputs (``prompt_id, prompt, model, response``, one row per prompt and
    rung of :data:`LADDER`) from the answerer's ``answers`` (``prompt_id, prompt, response`` and
    optionally ``category``); deterministic given ``seed`` (which prompt lends its answer to
    another's off-topic rung)."""
    a = answers.reset_index(drop=True)
    cats = a["category"].tolist() if "category" in a else [None] * len(a)
    full = [full_answer(str(r)) for r in a["response"]]
    other = derangement(cats, seed=seed)
    rungs = {"full": full, "truncated": [truncate(t) for t in full], "off-topic": [full[j] for j in other]}
    rows = [
        {"prompt_id": a.at[i, "prompt_id"], "prompt": a.at[i, "prompt"], "model": name, "response": rungs[name][i]}
        for name in LADDER
        for i in range(len(a))
    ]
    return pd.DataFrame(rows, columns=["prompt_id", "prompt", "model", "response"])


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
    contestants: Sequence[Contestant] = (ANSWERER,),
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
