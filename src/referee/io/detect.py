"""Which format is this file?  Decided from content: the container, the first record's
keys (and a few values), and for PRD the file name, which carries the model names."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from referee.errors import InputError
from referee.io import arena, autoj, judgebench, llmbar, mt_bench, pairs, pandalm, prd
from referee.io.source import Source
from referee.schema import CANONICAL

FORMATS: tuple[str, ...] = (
    "arena", "alpaca_eval", "mt_bench", "fastchat_pair", "arena_hard", "prd", "generic",
    "llmbar", "judgebench", "autoj", "pandalm", "pairs",
)

#: files a benchmark release keeps beside its data, skipped when a directory is read:
#: (regular expression on the file name, condition on the path, what the file is)
SIDE_FILES: tuple[tuple[str, Callable[[Path], bool], str], ...] = (
    (r"^statistics\.json$", lambda p: "evaluators" in p.parts, "LLMBar per-evaluator summary statistics"),
    (r"-Eval_.*\.jsonl", lambda p: True, "Auto-J GPT-4 comparisons of critiques, not of responses"),
    (r"^testset-inference", lambda p: True, "PandaLM instructions without responses"),
)

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
        frozenset({"output", "cost", "finish_reason"}),
        "API completions (e.g. Auto-J's GPT-4 comparisons of critiques): no verdicts on response pairs",
        "read the judge's verdict files instead",
    ),
    (
        frozenset({"motivation_app", "instruction", "input"}),
        "instructions without responses (e.g. PandaLM's inference set)",
        "read the test set (testset-v1.json) and the judges' result files instead",
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
    try:
        rec = src.first_record()
    except InputError:
        if pairs.whole_object(src) is not None:
            return "pairs"  # EvalBiasBench: one JSON object {bias type: [pairs]}
        raise
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
    gold = _gold_format(rec, keys)
    if gold:
        return gold
    _explain(src, keys)


def _gold_format(rec: dict[str, Any], keys: set[str]) -> str | None:
    """Readers of gold-labelled judge benchmarks and chosen/rejected pairs."""
    if keys >= llmbar.KEYS:
        return "llmbar"
    if keys >= judgebench.KEYS:
        return "judgebench"
    if keys >= autoj.KEYS or (keys == {"output"} and str(rec["output"]).strip() in ("0", "1", "2")):
        return "autoj"
    if keys >= pandalm.KEYS or ("idx" in keys and pandalm.result_key(rec)):
        return "pandalm"
    if {"chosen", "rejected"} <= keys or keys >= pairs.BIAS_KEYS:
        return "pairs"
    return None


def is_side_file(path: Path) -> bool:
    """Is this a file a benchmark release keeps beside its data (see :data:`SIDE_FILES`)?"""
    return any(re.search(pattern, path.name) and cond(path) for pattern, cond, _ in SIDE_FILES)


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
