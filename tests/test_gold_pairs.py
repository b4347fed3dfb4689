"""Chosen/rejected sets as gold comparisons: TRL, HH-RLHF, HHH, RM-Bench, EvalBiasBench."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import referee
from referee.errors import InputError
from referee.io import detect, read
from referee.io.pairs import chosen_first
from shared_data import DATA, need

HH = DATA / "hh-rlhf" / "harmless-base" / "test.jsonl.gz"
HHH = DATA / "hhh-alignment-prometheus" / "derived" / "hhh_alignment_pairs.jsonl"
RMB = DATA / "rm-bench" / "data"
EBB = DATA / "evalbiasbench" / "data" / "evalbiasbench" / "biasbench.json"


def chosen_text(df: pd.DataFrame) -> pd.Series:
    return pd.Series(np.where(df["winner"] == "model_a", df["response_a"], df["response_b"]), index=df.index)


def rejected_text(df: pd.DataFrame) -> pd.Series:
    return pd.Series(np.where(df["winner"] == "model_a", df["response_b"], df["response_a"]), index=df.index)


def length_scores(gold: pd.DataFrame, by: str = "response") -> pd.DataFrame:
    """A toy reward model: the response's length in characters; each response named by text or by model."""
    cols = ["prompt_id", "response", "model"]
    sides = pd.concat([gold[["prompt_id", "response_a", "model_a"]].set_axis(cols, axis=1),
                       gold[["prompt_id", "response_b", "model_b"]].set_axis(cols, axis=1)]).drop_duplicates()
    scores = sides.assign(scorer="length", score=sides["response"].str.len().astype(float))
    return scores.drop(columns="model" if by == "response" else "response")


# -- real sets --------------------------------------------------------------------------------------
@pytest.mark.shared_data
def test_hh_rlhf() -> None:
    path = need(HH)
    assert detect(path) == "pairs"
    df = read(path)
    assert len(df) == 2312 and (df["judge"] == "gold").all()
    assert df["prompt"].str.endswith("\n\nAssistant:").all()
    with gzip.open(path, "rt") as fh:
        raw = [json.loads(line) for line in fh]
    assert (df["prompt"] + " " + chosen_text(df)).str.len().le([len(r["chosen"]) for r in raw]).all()
    assert raw[0]["chosen"].startswith(df["prompt"].iloc[0]) and raw[0]["chosen"].rstrip().endswith(
        chosen_text(df).iloc[0])
    # the chosen side is a seeded coin flip per pair, recorded in model_a / model_b
    share = (df["model_a"] == "chosen").mean()
    assert 0.45 < share < 0.55
    assert ((df["model_a"] == "chosen") == (df["winner"] == "model_a")).all()
    assert read(path)["model_a"].equals(df["model_a"])  # reproducible


@pytest.mark.shared_data
def test_hhh_and_a_reward_model_audit_on_it() -> None:
    gold = read(need(HHH))
    assert len(gold) == 221
    assert gold["category"].value_counts().to_dict() == {"honest": 61, "helpful": 59, "harmless": 58, "other": 43}
    assert gold["prompt_id"].nunique() == 102  # several pairs per instruction: one bootstrap cluster each
    rep = referee.audit(length_scores(gold), gold=gold, kind="reward-model", rounds=0)
    longer = chosen_text(gold).str.len() > rejected_text(gold).str.len()  # equal lengths count as wrong
    assert rep.judges["length"]["accuracy"]["value"] == pytest.approx(longer.mean())
    assert rep.judges["length"]["accuracy"]["n"] == 221


@pytest.mark.shared_data
def test_rm_bench_nine_comparisons_and_difficulty() -> None:
    df = read(need(RMB))
    prompts = 129 + 228 + 284 + 157
    assert len(df) == 9 * prompts
    assert df["category"].value_counts().to_dict() == {"easy": 3 * prompts, "normal": 3 * prompts,
                                                       "hard": 3 * prompts}
    assert df.groupby("domain").size().to_dict() == {"chat": 9 * 129, "code": 9 * 228, "safety-refuse": 9 * 284,
                                                     "safety-response": 9 * 157}
    names = set(df["model_a"]) | set(df["model_b"])
    assert names == {f"{k}_{s}" for k in ("chosen", "rejected") for s in ("concise", "detailed", "markdown")}
    hard = df[df["category"] == "hard"]
    chosen = np.where(hard["winner"] == "model_a", hard["model_a"], hard["model_b"])
    rejected = np.where(hard["winner"] == "model_a", hard["model_b"], hard["model_a"])
    order = {"concise": 0, "detailed": 1, "markdown": 2}
    assert all(order[c.split("_")[1]] < order[r.split("_")[1]] for c, r in zip(chosen, rejected, strict=True))


@pytest.mark.shared_data
def test_rm_bench_accuracy_matches_its_own_formula() -> None:
    """A length 'reward model' audited on the chat set gives RM-Bench's easy/normal/hard accuracies.

    The six responses of a prompt are scored by name (``chosen_<style>``): in 12 chat prompts two
    styles share one text, and RM-Bench still counts all nine cells.
    """
    path = need(RMB / "chat_filtered.json.gz")
    gold = read(path)
    rep = referee.audit(length_scores(gold, by="model"), gold=gold, kind="reward-model", rounds=0)
    got = {c: m["value"] for c, m in rep.judges["length"]["details"]["accuracy_by_category"].items()}
    with gzip.open(path, "rt") as fh:
        raw = json.load(fh)
    acc = np.zeros((3, 3))  # RM-Bench README: rows chosen style, columns rejected style
    for rec in raw:
        for i in range(3):
            for j in range(3):
                acc[i, j] += len(rec["chosen"][i]) > len(rec["rejected"][j])
    acc /= len(raw)
    expected = {"hard": np.sum(np.triu(acc, 1)) / 3, "normal": np.mean(np.diag(acc)),
                "easy": np.sum(np.tril(acc, -1)) / 3}
    assert got == pytest.approx(expected)


@pytest.mark.shared_data
def test_evalbiasbench() -> None:
    path = need(EBB)
    assert detect(path) == "pairs"
    df = read(path)
    assert len(df) == 80
    assert df["category"].value_counts().to_dict() == {
        "length bias": 17, "concreteness": 14, "empty reference": 13, "content_continuation": 12,
        "nested_instruction": 12, "familiar knowledge preference bias": 12}
    raw = json.loads(path.read_text())
    records = [r for recs in raw.values() for r in recs]
    assert (chosen_text(df) == [r["response1"] for r in records]).all()  # label is always 1
    first = df["model_a"] == "chosen"
    assert 30 <= first.sum() <= 50  # no longer always the first response
    assert first.tolist() == [chosen_first(r["instruction"], r["response1"], r["response2"]) for r in records]
    lb = df[df["category"] == "length bias"]
    assert (chosen_text(lb).str.len() < rejected_text(lb).str.len()).all()  # the longer response is worse


# -- formats and bad input -----------------------------------------------------------------------------
def write_lines(path: Path, *records: dict) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_trl_records_and_identical_pairs(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "pairs.jsonl",
        {"prompt": "p1", "chosen": "good", "rejected": "bad", "category": "c"},
        {"prompt": "p2", "chosen": "same", "rejected": "same"},
        {"prompt": [{"role": "user", "content": "p3"}], "chosen": [{"role": "assistant", "content": "yes"}],
         "rejected": [{"role": "assistant", "content": "no"}]},
        {"chosen": [{"role": "user", "content": "p4"}, {"role": "assistant", "content": "A"}],
         "rejected": [{"role": "user", "content": "p4"}, {"role": "assistant", "content": "B"}]},
    )
    assert detect(path) == "pairs"
    df = read(path, format="pairs")
    assert df.attrs["dropped"] == {"identical_responses": 1}
    assert df["prompt"].tolist() == ["p1", "p3", "p4"]
    assert chosen_text(df).tolist() == ["good", "yes", "A"] and rejected_text(df).tolist() == ["bad", "no", "B"]
    assert df["category"].iloc[0] == "c" and (df["judge"] == "gold").all()


def test_missing_field_is_located(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "pairs.jsonl", {"prompt": "p", "chosen": "a", "rejected": "b"},
                       {"prompt": "p", "chosen": "a"})
    with pytest.raises(InputError, match="missing required field") as exc:
        read(path)
    assert (exc.value.path, exc.value.line, exc.value.field) == (str(path), 2, "rejected")
    path = write_lines(tmp_path / "plain.jsonl", {"chosen": "a", "rejected": "b"})
    with pytest.raises(InputError, match="HH-RLHF") as exc:
        read(path)
    assert (exc.value.line, exc.value.field) == (1, "prompt")
    path = write_lines(tmp_path / "bad.jsonl", {"prompt": "p", "chosen": 3, "rejected": "b"})
    with pytest.raises(InputError, match="expected a string") as exc:
        read(path)
    assert exc.value.field == "chosen"


def test_bias_object_errors_name_the_record(tmp_path: Path) -> None:
    path = tmp_path / "bias.json"
    good = {"bias": "x", "instruction": "i", "response1": "a", "response2": "b", "label": 1}
    path.write_text(json.dumps({"x": [good, good | {"label": 3}]}, indent=2))
    assert detect(path) == "pairs"
    with pytest.raises(InputError, match=r"unknown label.*record 2 of 'x'") as exc:
        read(path)
    assert exc.value.field == "label"
    path.write_text(json.dumps({"x": [good, good | {"label": 2}]}, indent=2))
    df = read(path)
    assert chosen_text(df).tolist() == ["a", "b"] and (df["category"] == "x").all()
