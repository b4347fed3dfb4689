"""Auto-J (Li et al., ICLR 2024) pairwise test set: human labels with ties, and judge outputs in both orders.

* ``data/test/testdata_pairwise.jsonl`` — ``{scenario, label, prompt, "response 1", "response 2"}``
  -> one gold row each (``judge="gold"``, ``model_a="response_1"``, ``model_b="response_2"``;
  label 0 -> ``model_a``, 1 -> ``model_b``, 2 -> ``tie``).
* ``data/outputs/*.jsonl`` — ``{"output": 0 | 1 | 2}`` per line, joined **by position** with the
  test set (found as ``../test/testdata_pairwise.jsonl[.gz]`` or beside the file).  A file whose
  name contains ``exchange`` holds the verdicts with the two responses swapped, its labels in
  that swapped frame (0 = the response shown first): -> ``order`` 2, ``model_a="response_2"``,
  winner in the shown frame.  Other files -> ``order`` 1.  ``judge`` is ``auto-j-13b`` for the
  release's ``pairwise_[exchange_]example_output`` files, else the file name without
  ``exchange``.

``category`` is Auto-J's scenario group (Summarization, Exam Questions, Code, Rewriting,
Creative Writing, Functional Writing, General Communication, NLP Tasks; the 58 scenarios are
kept in ``scenario``); ``pair_id`` is ``<test file stem>#<record number>``; ``prompt_id`` the
12-hex hash of the prompt.  Auto-J's published numbers are the audit's, tie policy
``three-class``: "single" agreement = ``accuracy_order1``, "pairwise" agreement =
``accuracy_both_orders``, consistency = ``position_consistency``.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from referee.errors import InputError
from referee.io.fields import Fields, type_and_value
from referee.io.gold import GOLD, companion, text_id
from referee.io.source import Parsed, Source, inner_suffix

KEYS = frozenset({"scenario", "label", "prompt", "response 1", "response 2"})
LABELS = {0: "model_a", 1: "model_b", 2: "tie"}
TEST_FILES = tuple(f"{d}testdata_pairwise.jsonl{z}" for d in ("../test/", "") for z in (".gz", ""))
RELEASE_OUTPUTS = {"pairwise_example_output", "pairwise_exchange_example_output"}
RELEASE_JUDGE = "auto-j-13b"

SCENARIO_GROUPS: dict[str, tuple[str, ...]] = {
    "Summarization": ("post_summarization", "text_summarization", "note_summarization"),
    "Exam Questions": ("math_reasoning", "solving_exam_question_with_math", "solving_exam_question_without_math"),
    "Code": ("code_simplification", "code_generation", "explaining_code", "code_correction_rewriting",
             "code_to_code_translation"),
    "Rewriting": ("text_simplification", "language_polishing", "instructional_rewriting", "text_correction",
                  "paraphrasing"),
    "Creative Writing": ("writing_song_lyrics", "writing_social_media_post", "writing_blog_post",
                         "writing_personal_essay", "creative_writing", "writing_advertisement",
                         "writing_marketing_materials", "writing_presentation_script", "counterfactual"),
    "Functional Writing": ("writing_product_description", "writing_job_application", "writing_news_article",
                           "writing_biography", "writing_email", "writing_legal_document",
                           "writing_technical_document", "writing_scientific_paper", "functional_writing",
                           "writing_cooking_recipe"),
    "General Communication": ("asking_how_to_question", "open_question", "analyzing_general", "explaining_general",
                              "seeking_advice", "recommendation", "value_judgement", "verifying_fact", "chitchat",
                              "roleplay", "planning", "brainstorming"),
    "NLP Tasks": ("ranking", "text_to_text_translation", "data_analysis", "classification_identification",
                  "title_generation", "question_generation", "reading_comprehension", "keywords_extraction",
                  "information_extraction", "topic_modeling", "others"),
}
GROUP_OF = {s: g for g, scenarios in SCENARIO_GROUPS.items() for s in scenarios}


def stem(src: Source) -> str:
    """File name without its container and compression suffixes."""
    name = src.path.name
    suffix = inner_suffix(src.path)
    i = name.lower().rfind(suffix) if suffix else -1
    return name[:i] if i > 0 else name


def judge_and_order(src: Source) -> tuple[str, int]:
    """(judge name, presentation order) of an outputs file, from its name."""
    name = stem(src)
    order = 2 if "exchange" in name.lower() else 1
    if name in RELEASE_OUTPUTS:
        return RELEASE_JUDGE, order
    judge = re.sub(r"(^|[_-])exchange(?=$|[_-])", "", name, flags=re.IGNORECASE).strip("_-")
    return judge or name, order


def read(src: Source, **_: Any) -> Parsed:
    """Read the Auto-J pairwise test set (gold rows) or an outputs file (verdict rows)."""
    first = src.first_record()
    if "output" in first and not KEYS & set(first):
        return _outputs(src)
    return Parsed(pd.DataFrame([_gold_row(Fields(rec, src.name, line), stem(src), n)
                                for n, (line, rec) in enumerate(src.records(), start=1)]))


def _items(f: Fields, test_stem: str, n: int) -> dict[str, Any]:
    prompt = f.text("prompt")
    scenario = f.text("scenario")
    assert prompt is not None and scenario is not None  # required fields: Fields.text raised InputError otherwise
    return {
        "prompt": prompt,
        "prompt_id": text_id(prompt),
        "pair_id": f"{test_stem}#{n}",
        "category": GROUP_OF.get(scenario, scenario),
        "scenario": scenario,
        "r1": f.text("response 1"),
        "r2": f.text("response 2"),
    }


def _gold_row(f: Fields, test_stem: str, n: int) -> dict[str, Any]:
    item = _items(f, test_stem, n)
    r1, r2 = item.pop("r1"), item.pop("r2")
    return item | {"_line": f.line, "model_a": "response_1", "model_b": "response_2", "winner": _label(f, "label"),
                   "judge": GOLD, "response_a": r1, "response_b": r2}


def _label(f: Fields, key: str) -> str:
    value = f.raw(key)
    if isinstance(value, str) and value.strip() in ("0", "1", "2"):
        value = int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool) and value in LABELS:
        return LABELS[value]
    f.error(f"unknown label {type_and_value(value)}; expected 0 (first response better), 1 (second) or 2 (tie)", key)


def _outputs(src: Source) -> Parsed:
    test = companion(src.path, TEST_FILES, "the Auto-J pairwise test set", src)
    items = [_items(Fields(rec, test.name, line), stem(test), n) for n, (line, rec) in enumerate(test.records(), 1)]
    records = src.records()
    if len(records) != len(items):
        raise InputError(f"{len(records)} verdicts but the test set {test.name} has {len(items)} pairs; "
                         "Auto-J outputs are matched to the test set by position", path=src.name)
    judge, order = judge_and_order(src)
    swapped = order == 2
    rows = []
    for (line, rec), item in zip(records, items, strict=True):
        f = Fields(rec, src.name, line)
        r1, r2 = item["r1"], item["r2"]
        rows.append({k: v for k, v in item.items() if k not in ("r1", "r2")} | {
            "_line": line,
            "model_a": "response_2" if swapped else "response_1",
            "model_b": "response_1" if swapped else "response_2",
            "winner": _label(f, "output"),  # already in the shown frame
            "judge": judge,
            "response_a": r2 if swapped else r1,
            "response_b": r1 if swapped else r2,
            "order": order,
        })
    return Parsed(pd.DataFrame(rows))
