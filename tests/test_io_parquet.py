"""Parquet and the fast readers through the real CLI: dictionary-encoded columns, files that are
not Parquet, the line of a bad weight, and the column projection / Categoricals that
``referee rank`` reads with."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from _proc import assert_clear_error
from referee.io import read
from referee.sim import simulate_arena

EXE = str(Path(sys.executable).with_name("referee"))


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EXE, *args], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def arena() -> pd.DataFrame:
    df, _ = simulate_arena(6, 2000, seed=3, n_prompts=40)
    df["judge"] = np.where(np.arange(len(df)) % 2 == 0, "alice", "bob")
    return df


def board(path: Path, tmp_path: Path, *args: str) -> dict:
    out = tmp_path / f"{path.stem}.json"
    proc = run("rank", str(path), "-q", "-o", str(out), *args)
    assert proc.returncode == 0, proc.stderr
    return json.loads(out.read_text())


def ratings(b: dict) -> dict[str, float]:
    return {r["model"]: r["rating"] for r in b["models"]}


def test_dictionary_encoded_parquet_is_read_as_strings(arena: pd.DataFrame, tmp_path: Path) -> None:
    # what pandas writes for `category` columns: dictionary<values=string, indices=int8>
    plain, cat = tmp_path / "plain.parquet", tmp_path / "cat.parquet"
    arena.to_parquet(plain, index=False)
    arena.astype({c: "category" for c in ("model_a", "model_b", "winner", "judge", "prompt_id")}).to_parquet(cat)
    a, b = read(plain), read(cat)
    for col in ("model_a", "model_b", "winner", "judge", "prompt_id"):
        assert not isinstance(b[col].dtype, pd.CategoricalDtype), col
        assert b[col].tolist() == arena[col].tolist() == a[col].tolist(), col
    ours, theirs = ratings(board(plain, tmp_path)), ratings(board(cat, tmp_path))
    assert ours == pytest.approx(theirs, abs=1e-9)
    # the same ranks through the cluster column, which is dictionary-encoded too
    clustered = board(cat, tmp_path, "--ci", "bootstrap", "--rounds", "50", "--cluster", "prompt_id")
    assert set(ratings(clustered)) == set(ours)


def test_dictionary_encoded_parquet_with_a_bad_label_names_the_row(arena: pd.DataFrame, tmp_path: Path) -> None:
    bad = arena.head(5).copy()
    bad.loc[3, "winner"] = "draw"
    path = tmp_path / "bad.parquet"
    bad.astype({"winner": "category"}).to_parquet(path, index=False)
    assert_clear_error(run("rank", str(path)), "bad.parquet", "line 4", "winner", "draw", "row 4 of the Parquet file")


def test_parquet_numbers_where_names_belong_are_refused_by_column(tmp_path: Path) -> None:
    path = tmp_path / "ints.parquet"
    pd.DataFrame({"model_a": [1, 2], "model_b": [2, 1], "winner": ["model_a", "tie"]}).to_parquet(path)
    assert_clear_error(run("rank", str(path)), "ints.parquet", "model_a", "wrong column type")


@pytest.mark.parametrize(
    ("content", "what"),
    [
        (b"model_a,model_b,winner\na,b,model_a\n", "starts with b'model_a,model_b,winn"),
        (b"hello world\n", "starts with b'hello world"),
        (b"", "empty"),
    ],
)
def test_a_parquet_file_that_is_plain_text(tmp_path: Path, content: bytes, what: str) -> None:
    path = tmp_path / "battles.parquet"
    path.write_bytes(content)
    assert_clear_error(run("rank", str(path)), "battles.parquet", "not a Parquet file", what)


def test_truncated_parquet(arena: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "cut.parquet"
    arena.to_parquet(path)
    path.write_bytes(path.read_bytes()[:200])
    assert_clear_error(run("rank", str(path)), "cut.parquet", "Parquet")


WEIGHTED = [
    {"model_a": "a", "model_b": "b", "winner": "model_a"},
    {"model_a": "b", "model_b": "a", "winner": "model_b", "weight": -1},
    {"model_a": "a", "model_b": "b", "winner": "tie", "weight": 1},
]


def _write(rows: list[dict], path: Path) -> Path:
    df = pd.DataFrame(rows)
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    elif path.suffix == ".csv":
        df.to_csv(path, index=False)
    else:
        df.to_parquet(path, index=False)
    return path


@pytest.mark.parametrize(
    ("name", "where"),
    [("w.jsonl", "line 2"), ("w.csv", "line 3"), ("w.parquet", "row 2 of the Parquet file")],
)
def test_negative_weight_names_its_own_line(tmp_path: Path, name: str, where: str) -> None:
    # the first row has no weight (it counts 1): the error is the second row's, never the first's
    # (CSV: the header is line 1, so the second row is line 3)
    path = _write(WEIGHTED, tmp_path / name)
    assert_clear_error(run("rank", str(path)), name, where, "weight")


@pytest.mark.parametrize("name", ["w.jsonl", "w.csv"])
def test_negative_weight_on_line_2(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    if name.endswith(".csv"):
        path.write_text("model_a,model_b,winner,weight\nb,a,model_b,-1\na,b,model_a,1\n")
    else:
        path.write_text('{"model_a": "a", "model_b": "b", "winner": "model_a", "weight": 1}\n'
                        '{"model_a": "b", "model_b": "a", "winner": "model_b", "weight": -1}\n')
    assert_clear_error(run("rank", str(path)), name, "line 2", "weight")


def test_categories_and_columns(arena: pd.DataFrame, tmp_path: Path) -> None:
    jsonl, parquet = tmp_path / "a.jsonl", tmp_path / "a.parquet"
    arena.assign(weight=1.0).to_json(jsonl, orient="records", lines=True)
    arena.assign(weight=1.0).to_parquet(parquet, index=False)
    for path in (jsonl, parquet):
        full = read(path)
        fast = read(path, categories=True, columns=["prompt_id"])
        # the columns that decide what a row means are always kept
        assert set(fast.columns) == {"model_a", "model_b", "winner", "weight", "prompt_id"}
        assert fast["model_a"].cat.categories.equals(fast["model_b"].cat.categories)
        assert list(fast["model_a"].cat.categories) == sorted(set(arena.model_a) | set(arena.model_b))
        assert list(fast["winner"].cat.categories) == sorted(set(arena.winner))
        for col in ("model_a", "model_b", "winner", "prompt_id"):
            assert fast[col].astype(str).tolist() == full[col].tolist() == arena[col].tolist()
        assert not (fast["model_a"] == fast["model_b"]).any()


def test_columns_keep_keys_that_appear_after_the_first_lines(tmp_path: Path) -> None:
    # read(columns=...) declares the wanted JSON keys from the first lines: a key first seen
    # later, or an integer that later is fractional, must still be read exactly
    first = [{"model_a": "a", "model_b": "b", "winner": "model_a", "weight": 1, "prompt_id": f"p{i}"}
             for i in range(2000)]
    later = [{"model_a": "b", "model_b": "a", "winner": "tie", "weight": 0.5, "prob_a": 0.25, "voter": "v"}] * 3
    path = tmp_path / "late.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in first + later))
    df = read(path, categories=True, columns=["voter"])
    assert set(df.columns) == {"model_a", "model_b", "winner", "weight", "prob_a", "voter"}
    assert df["weight"].tolist() == [1.0] * 2000 + [0.5] * 3
    assert df["prob_a"].iloc[-1] == 0.25 and df["prob_a"].iloc[:2000].isna().all()
    assert df["voter"].iloc[-1] == "v"
    assert df["winner"].astype(str).tolist() == ["model_a"] * 2000 + ["tie"] * 3
    # an absent key is not invented
    assert "strength" not in df.columns


def test_categories_across_files(arena: pd.DataFrame, tmp_path: Path) -> None:
    # files of different formats and readers (fast Parquet, exact CSV) join into one code space
    one, two = tmp_path / "one.parquet", tmp_path / "two.csv"
    arena.head(500).to_parquet(one, index=False)
    arena.iloc[500:].to_csv(two, index=False)
    both = read([one, two], categories=True)
    assert both["model_a"].cat.categories.equals(both["model_b"].cat.categories)
    assert both["model_a"].astype(str).tolist() == arena["model_a"].tolist()
    assert both["winner"].astype(str).tolist() == arena["winner"].tolist()
    assert read([one, two])["model_b"].tolist() == arena["model_b"].tolist()
