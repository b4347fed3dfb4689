"""One way from "paths or a DataFrame" to a comparisons table: ``referee.io.table`` (issue 15, part 3).

A DataFrame is validated exactly as the same rows in a file: the same checks, the same
messages (``<DataFrame>`` where the file name would be, the row number where the line would
be), the same dropped rows, the same name normalisation; so ``rank`` and ``audit`` give the
same results for both.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import referee
from referee.auditing.sim import JudgeSpec, simulate_judges
from referee.errors import InputError, NameWarning
from referee.io import table
from referee.sim import simulate_arena


def jsonl(df: pd.DataFrame, path: Path) -> Path:
    """The rows of ``df`` as JSON Lines, one row per line (missing values as null)."""
    with path.open("w") as fh:
        for rec in df.to_dict(orient="records"):
            fh.write(json.dumps({k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in rec.items()}) + "\n")
    return path


@pytest.fixture(scope="module")
def arena() -> pd.DataFrame:
    df, _ = simulate_arena(6, 1500, seed=3, n_prompts=60)
    return df


@pytest.fixture(scope="module")
def arena_file(arena: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return jsonl(arena, tmp_path_factory.mktemp("table") / "battles.jsonl")


def test_a_dataframe_and_its_file_give_the_same_table(arena, arena_file) -> None:
    a, b = table(arena), table(arena_file)
    pd.testing.assert_frame_equal(a, b, check_dtype=False)
    assert a.attrs["dropped"] == b.attrs["dropped"] == {} and a.attrs["formats"] == {"<DataFrame>": "table"}
    ca, cb = table(arena, categories=True, columns=["prompt_id"]), table(arena_file, categories=True, columns=["prompt_id"])
    assert list(ca.columns) == list(cb.columns) and isinstance(ca["model_a"].dtype, pd.CategoricalDtype)
    pd.testing.assert_frame_equal(ca, cb, check_dtype=False, check_categorical=False)
    assert "tstamp" not in ca.columns


def test_the_dataframe_is_not_modified(arena) -> None:
    before = arena.copy()
    with pytest.warns(NameWarning, match="<DataFrame>: model names that differ only by"):
        table(arena.assign(model_a=[m + " " if i % 2 else m for i, m in enumerate(arena["model_a"])]), categories=True)
    pd.testing.assert_frame_equal(arena, before)


@pytest.mark.parametrize("options", [{}, {"model": "elo"}, {"ci": "bootstrap", "rounds": 40, "cluster": "prompt_id"},
                                     {"model": "davidson", "first_position": True}],
                         ids=["bt", "elo", "bootstrap", "davidson"])
def test_rank_gives_the_same_board_for_a_dataframe_and_a_file(options, arena, arena_file) -> None:
    a, b = referee.rank(arena, **options), referee.rank(str(arena_file), **options)
    pd.testing.assert_frame_equal(a.table, b.table)
    assert json.dumps(a.to_dict(), sort_keys=True) == json.dumps(b.to_dict(), sort_keys=True)


def test_rank_drops_unparsed_rows_of_a_dataframe_as_of_a_file(arena, tmp_path) -> None:
    df = arena.assign(parse_status="ok", winner=arena["winner"].astype(object))
    df.loc[:9, "parse_status"] = "unparsed"
    df.loc[:9, "winner"] = None
    df.loc[10:14, "parse_status"] = "failed"
    a, b = referee.rank(df), referee.rank(jsonl(df, tmp_path / "judged.jsonl"))
    assert a.meta["dropped"] == b.meta["dropped"] == {"unparsed_verdict": 10, "failed_call": 5}
    pd.testing.assert_frame_equal(a.table, b.table)


BAD = {  # name -> how to spoil the rows
    "winner label": lambda df: df.assign(winner=["draw" if i == 4 else w for i, w in enumerate(df["winner"])]),
    "missing model": lambda df: df.assign(model_b=[None if i == 2 else m for i, m in enumerate(df["model_b"])]),
    "prob_a range": lambda df: df.assign(prob_a=[1.5 if i == 7 else 0.5 for i in range(len(df))]),
    "negative weight": lambda df: df.assign(weight=[-1.0 if i == 3 else 1.0 for i in range(len(df))]),
    "missing column": lambda df: df.drop(columns="model_b"),
    "strength": lambda df: df.assign(strength=[3 if i == 5 else 1 for i in range(len(df))]),
    "only self-battles": lambda df: df.assign(model_b=df["model_a"]),
    "disconnected": lambda df: pd.concat([df, pd.DataFrame({"model_a": ["x", "y"], "model_b": ["y", "x"],
                                                             "winner": ["model_a", "tie"]})], ignore_index=True),
    "all unparsed": lambda df: df.assign(parse_status="unparsed"),
}


@pytest.mark.parametrize("spoil", list(BAD))
def test_rank_errors_are_the_same_for_a_dataframe_and_a_file(spoil, arena, tmp_path) -> None:
    df = BAD[spoil](arena.head(40).reset_index(drop=True))
    path = jsonl(df, tmp_path / "bad.jsonl")
    with pytest.raises(InputError) as from_frame:
        referee.rank(df)
    with pytest.raises(InputError) as from_file:
        referee.rank(str(path))
    assert str(from_frame.value) == str(from_file.value).replace(str(path), "<DataFrame>")
    assert (from_frame.value.line, from_frame.value.field) == (from_file.value.line, from_file.value.field)


def test_names_are_normalised_and_warned_about_alike(arena, tmp_path) -> None:
    df = arena.copy()
    df.loc[::3, "model_a"] = df.loc[::3, "model_a"].str.upper() + " "
    df.loc[1, "model_b"] = "mode\u0301l-x"  # decomposed é: the same name as the composed one after NFC
    df.loc[2, "model_a"] = "mod\u00e9l-x"
    path = jsonl(df, tmp_path / "names.jsonl")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        a, b = referee.rank(df, merge_case=True), referee.rank(path, merge_case=True)
    texts = [str(w.message) for w in caught if w.category is NameWarning]
    assert len(texts) == 2 and texts[0] == texts[1].replace(str(path), "<DataFrame>")
    assert a.meta["name_variants"] == b.meta["name_variants"]
    pd.testing.assert_frame_equal(a.table, b.table)
    assert "model-000" in set(a.table["model"]) and not any(m.endswith(" ") for m in a.table["model"])


@pytest.fixture(scope="module")
def judged() -> tuple[pd.DataFrame, pd.DataFrame]:
    verdicts, gold = simulate_judges({"fair": JudgeSpec(), "first": JudgeSpec(position=0.8)}, n_prompts=40, seed=5)
    return verdicts, gold


def test_audit_gives_the_same_report_for_dataframes_and_files(judged, tmp_path) -> None:
    verdicts, gold = judged
    vp, gp = jsonl(verdicts, tmp_path / "v.jsonl"), jsonl(gold, tmp_path / "g.jsonl")
    a = referee.audit(verdicts, gold, rounds=50, seed=1).to_dict()
    b = referee.audit(str(vp), [str(gp)], rounds=50, seed=1).to_dict()
    for report in (a, b):
        report["meta"].pop("inputs")
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


@pytest.mark.parametrize("spoil", ["winner label", "missing model", "prob_a range", "all unparsed"])
def test_audit_errors_are_the_same_for_a_dataframe_and_a_file(spoil, judged, tmp_path) -> None:
    verdicts, gold = judged
    bad = BAD[spoil](verdicts.head(30).reset_index(drop=True))
    path = jsonl(bad, tmp_path / "v.jsonl")
    with pytest.raises(InputError) as from_frame:
        referee.audit(bad, gold, rounds=0)
    with pytest.raises(InputError) as from_file:
        referee.audit(str(path), gold, rounds=0)
    assert str(from_frame.value) == str(from_file.value).replace(str(path), "<DataFrame>")
    bad_gold = BAD[spoil](gold.head(30).reset_index(drop=True))
    with pytest.raises(InputError) as gold_frame:
        referee.audit(verdicts, bad_gold, rounds=0)
    with pytest.raises(InputError) as gold_file:
        referee.audit(verdicts, str(jsonl(bad_gold, tmp_path / "g.jsonl")), rounds=0)
    assert str(gold_frame.value) == str(gold_file.value).replace(str(tmp_path / "g.jsonl"), "<gold DataFrame>")


def test_online_elo_reads_what_rank_reads(arena, arena_file) -> None:
    from referee.ranking.elo import online_elo

    m1, r1 = online_elo(arena)
    m2, r2 = online_elo(str(arena_file))
    assert m1 == m2
    np.testing.assert_array_equal(r1, r2)
    with pytest.raises(InputError, match="<DataFrame>, line 1, field 'winner'"):
        online_elo(arena.assign(winner="draw"))
