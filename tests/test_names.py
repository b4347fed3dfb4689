"""Model names: Unicode NFC, stripped whitespace, case variants warned about and merged on request."""

from __future__ import annotations

import json
import subprocess
import sys
import unicodedata
import warnings
from pathlib import Path

import pandas as pd
import pytest

import referee
from referee.errors import NameWarning
from referee.io import read
from referee.schema import validate
from shared_data import DATA, need

REFEREE = Path(sys.executable).with_name("referee")
SPELLINGS = ("gpt-4", "GPT-4", "gpt-4 ")


def battles(names: tuple[str, ...], rivals: tuple[str, ...] = ("claude", "llama"), reps: int = 4) -> pd.DataFrame:
    """Every name against every rival, each way round, A and B winning alternately."""
    rows = []
    for k in range(reps):
        for n in names:
            for r in rivals:
                rows.append({"model_a": n, "model_b": r, "winner": "model_a" if k % 2 else "model_b"})
                rows.append({"model_a": r, "model_b": n, "winner": "model_b" if k % 3 else "model_a"})
    rows.append({"model_a": rivals[0], "model_b": rivals[1], "winner": "model_a"})
    rows.append({"model_a": rivals[1], "model_b": rivals[0], "winner": "tie"})
    return pd.DataFrame(rows)


def no_name_warning(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error", NameWarning)
        return fn(*args, **kwargs)


def test_composed_and_decomposed_e_are_one_model() -> None:
    composed, decomposed = "caf\u00e9-7b", "cafe\u0301-7b"
    assert composed != decomposed and unicodedata.normalize("NFC", decomposed) == composed
    out = no_name_warning(validate, battles((composed, decomposed)))  # canonically equal: merged silently
    assert set(out["model_a"]) | set(out["model_b"]) == {composed, "claude", "llama"}
    board = no_name_warning(referee.rank, battles((composed, decomposed)))
    assert sorted(board.to_pandas()["model"]) == sorted(["claude", composed, "llama"])


def test_case_and_whitespace_variants_warn_and_stay_apart() -> None:
    with pytest.warns(NameWarning) as caught:
        out = validate(battles(SPELLINGS))
    [message] = [str(w.message) for w in caught if w.category is NameWarning]
    for s in SPELLINGS:
        assert repr(s) in message
    assert "--merge-case" in message
    # surrounding whitespace is always stripped; case variants stay separate models
    assert set(out["model_a"]) | set(out["model_b"]) == {"gpt-4", "GPT-4", "claude", "llama"}
    [group] = out.attrs["name_variants"]
    assert group["spellings"] == sorted(SPELLINGS)
    assert group["names"] == ["GPT-4", "gpt-4"]
    assert group["canonical"] == "gpt-4"  # 'gpt-4' + 'gpt-4 ' occur twice as often as 'GPT-4'


def test_merge_case_uses_the_most_frequent_spelling_then_code_point_order() -> None:
    with pytest.warns(NameWarning, match="merged into 'gpt-4'"):
        out = validate(battles(SPELLINGS), merge_case=True)
    assert set(out["model_a"]) | set(out["model_b"]) == {"gpt-4", "claude", "llama"}
    tied = battles(("Llama-3", "llama-3"), rivals=("a", "b"))
    with pytest.warns(NameWarning):
        out = validate(tied, merge_case=True)
    assert out.attrs["name_variants"][0]["canonical"] == "Llama-3"  # a tie: 'L' < 'l'
    with pytest.warns(NameWarning):  # row order does not change the choice
        again = validate(tied.iloc[::-1].reset_index(drop=True), merge_case=True)
    assert again.attrs["name_variants"] == out.attrs["name_variants"]


def test_rank_notes_the_variants_and_merges_on_request() -> None:
    with pytest.warns(NameWarning):
        board = referee.rank(battles(SPELLINGS))
    assert sorted(board.to_pandas()["model"]) == ["GPT-4", "claude", "gpt-4", "llama"]
    assert any("differ only by case" in n for n in board.meta["notes"])
    with pytest.warns(NameWarning):
        merged = referee.rank(battles(SPELLINGS), merge_case=True)
    assert sorted(merged.to_pandas()["model"]) == ["claude", "gpt-4", "llama"]
    assert merged.meta["name_variants"][0]["names"] == ["gpt-4"]


def test_categorical_name_columns_stay_categorical() -> None:
    df = battles(SPELLINGS).astype({"model_a": "category", "model_b": "category"})
    with pytest.warns(NameWarning):
        out = validate(df, merge_case=True)
    for col in ("model_a", "model_b"):
        assert isinstance(out[col].dtype, pd.CategoricalDtype)
        assert set(out[col].cat.categories) == set(out[col]) <= {"gpt-4", "claude", "llama"}


def test_variants_across_files_are_found_once(tmp_path: Path) -> None:
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    battles(("gpt-4",), reps=6).to_json(one, orient="records", lines=True)
    battles(("GPT-4",)).to_json(two, orient="records", lines=True)
    with pytest.warns(NameWarning) as caught:
        df = read([one, two], merge_case=True)
    assert sum(w.category is NameWarning for w in caught) == 1
    assert set(df["model_a"]) | set(df["model_b"]) == {"gpt-4", "claude", "llama"}
    assert df.attrs["name_variants"][0]["spellings"] == ["GPT-4", "gpt-4"]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(REFEREE), *args], capture_output=True, text=True, timeout=300)


def test_cli_warns_in_one_line_and_merges_with_merge_case(tmp_path: Path) -> None:
    data = tmp_path / "battles.jsonl"
    battles(SPELLINGS).to_json(data, orient="records", lines=True)
    plain = _cli("rank", str(data), "-q", "-o", str(tmp_path / "plain.json"))
    assert plain.returncode == 0, plain.stderr
    warned = [line for line in plain.stderr.splitlines() if "differ only by case" in line]
    assert len(warned) == 1 and warned[0].startswith("referee: warning: ")
    assert "Traceback" not in plain.stderr and "warnings.warn" not in plain.stderr
    models = [m["model"] for m in json.loads((tmp_path / "plain.json").read_text())["models"]]
    assert sorted(models) == ["GPT-4", "claude", "gpt-4", "llama"]

    merged = _cli("rank", str(data), "--merge-case", "-o", str(tmp_path / "out.json"))
    assert merged.returncode == 0, merged.stderr
    board = json.loads((tmp_path / "out.json").read_text())
    assert sorted(m["model"] for m in board["models"]) == ["claude", "gpt-4", "llama"]
    assert any("merged into 'gpt-4'" in n for n in board["meta"]["notes"])


@pytest.mark.shared_data
def test_no_warning_on_clean_real_data() -> None:
    """MT-Bench human judgments: six distinct model names, nothing to warn about."""
    path = need(DATA / "mt-bench-human-judgments-partial" / "derived" / "human.jsonl.gz")
    df = no_name_warning(read, path)
    assert "name_variants" not in df.attrs
    board = no_name_warning(referee.rank, path)
    assert not any("differ only by case" in n for n in board.meta.get("notes") or [])


@pytest.mark.shared_data
def test_real_data_with_a_recased_model_is_merged_back(tmp_path: Path) -> None:
    """The same MT-Bench votes, one model's name re-cased in a third of the rows: --merge-case restores the board."""
    path = need(DATA / "mt-bench-human-judgments-partial" / "derived" / "human.jsonl.gz")
    df = read(path)
    name = sorted(set(df["model_a"]))[0]
    recased = df.copy()
    for col in ("model_a", "model_b"):
        recased[col] = recased[col].astype(object)
        hit = (recased[col] == name) & (recased.index % 3 == 0)
        recased.loc[hit, col] = name.upper() + " "
    with pytest.warns(NameWarning, match=repr(name.upper() + " ")):
        split = referee.rank(recased, ci="none")
    assert len(split.to_pandas()) == len(set(df["model_a"]) | set(df["model_b"])) + 1
    with pytest.warns(NameWarning):
        merged = referee.rank(recased, ci="none", merge_case=True)
    original = referee.rank(df, ci="none")
    pd.testing.assert_frame_equal(merged.to_pandas()[["model", "rating"]], original.to_pandas()[["model", "rating"]])
