"""PRD (Peer Rank and Discussion) Vicuna80 pairwise ratings.

Files ``ratings-<reviewer>/answer_<m1>-vs-answer_<m2>-<reviewer>-reviewer_threeclass.jsonl``
(some copies spell the separators with ``-``, the vicuna-13b reviewer's drop ``_threeclass``).  Records hold ``question_id`` and
``score``: 1 = ``m1`` (Assistant 1) is better, 2 = ``m2`` is better, 3 = tie.  The model
names exist only in the file name: ``model_a = m1``, ``model_b = m2``, ``judge`` = the
reviewer (``human`` for the human folder).  In the human files ``text`` is the
question (-> ``prompt``); in LLM-reviewer files it is the review and is not kept.

The LLM reviewers judged every pair in both orders (``answer_a-vs-answer_b`` and
``answer_b-vs-answer_a``).  ``pair_id`` = ``<question_id>|<model>|<model>`` (models sorted, the
scheme of :func:`referee.planning.pair_id`) links both orders and the human votes on the pair.
``order`` is left unset: the release has no original order, so the audit takes the human
raters' orientation as order 1.

The answers themselves live beside the rating folders, in ``generations/answer_<model>.jsonl``
(records ``question_id``, ``text``; :func:`generations`).  When that folder exists, each row gets
``response_a``/``response_b`` (left empty for a model with no answer file, e.g. the guanaco
models the humans also rated), so length metrics need no manual join.  A generations record
that is not an object with ``question_id`` and a string ``text`` is refused with its file and line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from referee.errors import InputError
from referee.io.fields import Fields, type_and_value
from referee.io.source import Parsed, Source

NAME = re.compile(
    r"^answer[_-](?P<m1>.+?)-vs-answer[_-](?P<rest>.+)-reviewer(?:[_-]threeclass)?"
    r"\.jsonl?(?:\.(?:gz|xz|bz2|zst))?$",
    re.IGNORECASE,
)
SCORES = {1: "model_a", 2: "model_b", 3: "tie"}
#: the reviewers of the PRD release (``ratings-<reviewer>`` folders)
REVIEWERS = ("human", "gpt4", "gpt35", "claude", "bard", "vicuna-13b")
PATTERN_HINT = "answer_<model1>-vs-answer_<model2>-<reviewer>-reviewer_threeclass.jsonl"


def parse_name(path: Path) -> tuple[str, str, str] | None:
    """(model 1, model 2, reviewer) from a PRD file name, or None if it does not match.

    Names may contain hyphens (``vicuna-13b``), so where model 2 ends and the reviewer
    begins is ambiguous.  In order of preference the reviewer is: the parent folder's
    ``ratings-<reviewer>``; one of PRD's reviewers (:data:`REVIEWERS`); one of the two
    models (self-review); else the last hyphen-free word.
    """
    m = NAME.match(path.name)
    if not m:
        return None
    m1, rest = m["m1"], m["rest"]
    splits = [(rest[:i], rest[i + 1 :]) for i in range(len(rest)) if rest[i] == "-" and 0 < i < len(rest) - 1]
    if not splits:
        return None
    folder = path.parent.name
    hints = [folder[len("ratings-") :]] if folder.lower().startswith("ratings-") else []
    accepts: tuple[Callable[[str, str], bool], ...] = (
        lambda m2, rev: rev in hints,
        lambda m2, rev: rev in REVIEWERS,
        lambda m2, rev: rev in (m1, m2),
    )
    for accept in accepts:
        for m2, rev in splits:
            if accept(m2, rev):
                return m1, m2, rev
    m2, rev = splits[-1]
    return m1, m2, rev


def read(src: Source, **_: Any) -> Parsed:
    """Read one PRD ratings file; the model names come from its file name."""
    names = parse_name(src.path)
    if names is None:
        raise InputError(
            f"PRD ratings name their models only in the file name, which must look like {PATTERN_HINT}",
            path=src.name,
        )
    m1, m2, reviewer = names
    answers = {m: generations(src.path.parent.parent / "generations", m) for m in (m1, m2)}
    rows = []
    for line, rec in src.records():
        f = Fields(rec, src.name, line)
        qid = f.ident("question_id")
        is_review = "review_id" in rec or "reviewer_id" in rec
        rows.append(
            {
                "_line": line,
                "model_a": m1,
                "model_b": m2,
                "winner": _winner(f),
                "judge": reviewer,
                "prompt_id": qid,
                "pair_id": f"{qid}|{'|'.join(sorted((m1, m2)))}",
                "prompt": None if is_review else f.text("text", required=False),
                "response_a": answers[m1].get(qid or ""),
                "response_b": answers[m2].get(qid or ""),
            }
        )
    frame = pd.DataFrame(rows)
    if frame["prompt"].isna().all():
        frame = frame.drop(columns="prompt")
    empty = [c for c in ("response_a", "response_b") if frame[c].isna().all()]
    if len(empty) == 2:
        frame = frame.drop(columns=empty)
    return Parsed(frame)


def generations(folder: Path, model: str) -> dict[str, str]:
    """``question_id`` → answer text of ``model`` from ``folder/answer_<model>.jsonl[.gz|…]``
    (empty when the folder or the file is missing)."""
    if not folder.is_dir():
        return {}
    found = sorted(p for p in folder.iterdir() if p.name.split(".")[0] == f"answer_{model}" and p.is_file())
    return _answers(str(found[0]), found[0].stat().st_mtime_ns) if found else {}


@lru_cache(maxsize=64)
def _answers(path: str, mtime_ns: int) -> dict[str, str]:
    """The answers of one generations file (cached per path and modification time)."""
    src = Source(path)
    out: dict[str, str] = {}
    for line, rec in src.records():
        f = Fields(rec, src.name, line)
        qid = f.ident("question_id")
        text = f.text("text")
        if qid is not None and text is not None:
            out[qid] = text
    return out


def _winner(f: Fields) -> str:
    """Score 1/2/3 (an int or its string) -> model_a/model_b/tie."""
    value = f.raw("score")
    score: Any = None
    if isinstance(value, str) and value.strip() in ("1", "2", "3"):
        score = int(value.strip())
    elif isinstance(value, (int, float)) and not isinstance(value, bool) and value in SCORES:
        score = int(value)
    if score is None:
        f.error(f"unknown score {type_and_value(value)}; expected 1 (model 1 better), 2 (model 2 better) or 3 (tie)", "score")
    return SCORES[score]
