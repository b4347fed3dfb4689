"""Which format is this file?  Decided from content: the container, the first record's
keys (and a few values), and for PRD the file name, which carries the model names."""

from __future__ import annotations

from typing import Any, NoReturn

from referee.errors import InputError
from referee.io import arena, mt_bench, prd
from referee.io._source import Source
from referee.schema import CANONICAL

FORMATS: tuple[str, ...] = ("arena", "alpaca_eval", "mt_bench", "fastchat_pair", "arena_hard", "prd", "generic")

#: canonical columns that no external format uses: their presence means a referee table
OWN_COLUMNS = frozenset(CANONICAL) - {"model_a", "model_b", "winner", "judge", "tstamp", "turn", "language", "category"}

#: (required keys, description, advice) of files that are recognisably *not* comparisons
NOT_COMPARISONS: tuple[tuple[frozenset[str], str, str], ...] = (
    (
        frozenset({"instruction", "output", "generator"}),
        "AlpacaEval model outputs (instruction/output/generator): one model's responses, no verdicts",
        "read the judge's annotations.json (results/<model>/<annotator>/annotations.json) instead, "
        "or judge these outputs against a baseline first",
    ),
    (
        frozenset({"question_id", "model", "score"}),
        "single-answer grades (e.g. FastChat gpt-4_single.jsonl): one score per answer, not pairwise verdicts",
        "use pairwise judgments (e.g. gpt-4_pair.jsonl) or compare the scores yourself",
    ),
    (
        frozenset({"question_id", "text", "score"}),
        "PRD ratings, whose model names are only in the file name",
        f"name the file like {prd.PATTERN_HINT} or pass format='prd'",
    ),
    (
        frozenset({"chosen", "rejected"}),
        "chosen/rejected preference pairs: they name no competing models",
        "add model_a/model_b/winner columns to rank models from them",
    ),
    (
        frozenset({"answer_id", "model_id"}),
        "model answers (FastChat/PRD answer file): responses, no verdicts",
        "read the judgment or rating files instead",
    ),
    (
        frozenset({"model", "choices"}),
        "model answers (FastChat/Arena-Hard answer file): responses, no verdicts",
        "read the judgment files (model_judgment/...) instead",
    ),
    (
        frozenset({"model", "messages"}),
        "model answers (Arena-Hard answer file): responses, no verdicts",
        "read the judgment files (model_judgment/<judge>/<model>.jsonl) instead",
    ),
    (
        frozenset({"question_id", "turns"}),
        "benchmark questions: prompts, no verdicts",
        "read the judgment files instead",
    ),
)


def detect(src: Source | str) -> str:
    """Name of the format of ``src`` (one of :data:`FORMATS`); InputError when unrecognised."""
    if not isinstance(src, Source):
        src = Source(src)
    if src.kind in ("parquet", "csv"):
        return "generic"
    rec = src.first_record()
    keys = set(rec)
    if "score" in keys and "question_id" in keys and prd.parse_name(src.path):
        return "prd"
    if "games" in keys:
        return "arena_hard"
    if keys & {"g1_winner", "g2_winner"} or {"model_1", "model_2"} <= keys:
        return "fastchat_pair"
    if keys & {"generator_1", "generator_2"} or {"preference", "output_1"} <= keys:
        return "alpaca_eval"
    if {"model_a", "model_b"} <= keys and keys & {"winner", "prob_a"}:
        if _looks_mt_bench(rec):
            return "mt_bench"
        if keys & OWN_COLUMNS or not keys & arena.MARKERS:
            return "generic"
        return "arena"
    if keys & {"model_a", "model_b", "winner", "prob_a"}:
        return "generic"  # validation names the missing column
    _explain(src, keys)


def _looks_mt_bench(rec: dict[str, Any]) -> bool:
    """MT-Bench judgments share Arena's keys; tell them apart by judge, label and ids."""
    judge = rec.get("judge")
    if isinstance(judge, str) and (mt_bench.is_human(judge) or judge.startswith("gpt4_")):
        return True
    if isinstance(rec.get("winner"), str) and rec["winner"] in mt_bench.SYNONYMS:
        return True
    keys = set(rec)
    return (
        "conversation_a" in keys
        and "category" in keys
        and isinstance(rec.get("question_id"), int)
        and not keys & {"tstamp", "anony", "conv_metadata"}
    )


def _explain(src: Source, keys: set[str]) -> NoReturn:
    """Raise an InputError saying what the file looks like and what to do instead."""
    for need, what, advice in NOT_COMPARISONS:
        if need <= keys:
            raise InputError(f"this file holds {what}; {advice}", path=src.name)
    shown = ", ".join(sorted(map(str, keys))[:15]) or "none"
    raise InputError(
        f"unrecognised format: the first record has keys {shown}; expected canonical columns "
        f"(model_a, model_b, winner) or one of the formats {', '.join(FORMATS)} (pass format=...)",
        path=src.name,
    )
