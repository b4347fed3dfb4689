"""Bad input: every error is an InputError naming the file, the line and the field."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from referee.errors import InputError
from referee.io import read

OK = {"model_a": "a", "model_b": "b", "winner": "model_a", "tstamp": 1.0, "question_id": "q", "judge": "u1"}


def lines(*records: Any) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records)


def write(path: Path, text: str) -> Path:
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def fails(path: Path, line: int | None, field: str | None, match: str | None = None, **kw: Any) -> InputError:
    """Reading ``path`` raises InputError located at (file, line, field), also in the message."""
    with pytest.raises(InputError, match=match) as exc:
        read(path, **kw)
    err = exc.value
    assert type(err) is InputError
    assert err.path == str(path)
    assert err.line == line
    assert err.field == field
    text = str(err)
    assert str(path) in text
    if line is not None:
        assert f"line {line}" in text
    if field is not None:
        assert f"'{field}'" in text
    return err


@pytest.mark.parametrize("name", ["battles.jsonl", "battles.jsonl.gz"])
def test_malformed_json_line(tmp_path: Path, name: str) -> None:
    path = write(tmp_path / name, lines(OK, OK, "", '{"model_a": "a", "model_b"', OK))
    fails(path, 4, None, "malformed JSON")


def test_malformed_json_late_in_big_file(tmp_path: Path) -> None:
    # past pyarrow's first block, so the fast path fails and the exact pass finds the line
    path = write(tmp_path / "battles.jsonl", lines(*[OK] * 30000, '{"model_a": "a",, }', OK))
    fails(path, 30001, None, "malformed JSON")


def test_malformed_json_array(tmp_path: Path) -> None:
    path = write(tmp_path / "annotations.json", '[\n  {"model_a": "a"},\n  {"model_b": ]\n')
    fails(path, 3, None, "malformed JSON")


@pytest.mark.parametrize("fmt", [None, "generic", "arena"])
@pytest.mark.parametrize("label", ["draw", "A", 1, "Model_A", "tie (inconsistent)", None, 0.5, True])
def test_unknown_winner_label(tmp_path: Path, label: Any, fmt: str | None) -> None:
    path = write(tmp_path / "battles.jsonl", lines(OK, OK, OK | {"winner": label}, OK))
    err = fails(path, 3, "winner", format=fmt)
    assert "unknown winner label" in err.message or "wrong type" in err.message or "null" in err.message


def test_numeric_winner_everywhere_is_not_coerced(tmp_path: Path) -> None:
    # pyarrow infers an int64 column: the fast path must not turn it into labels
    path = write(tmp_path / "battles.jsonl", lines(*[OK | {"winner": 1}] * 5))
    fails(path, 1, "winner", "expected a string")


def test_unknown_label_in_json_array_names_the_record(tmp_path: Path) -> None:
    path = write(tmp_path / "battles.json", json.dumps([OK, OK | {"winner": "draw"}], indent=2))
    err = fails(path, 2, "winner", "unknown winner label")
    assert "record 2 of the JSON array" in err.message


def test_missing_field(tmp_path: Path) -> None:
    missing = {k: v for k, v in OK.items() if k != "model_b"}
    path = write(tmp_path / "battles.jsonl", lines(OK, missing, OK))
    fails(path, 2, "model_b", "missing")


def test_missing_column(tmp_path: Path) -> None:
    rows = [{"model_a": "a", "winner": "tie", "prompt_id": "p"}] * 3
    path = write(tmp_path / "table.jsonl", lines(*rows))
    err = fails(path, None, "model_b", "missing required column")
    assert "_line" not in err.message


def test_csv_missing_column(tmp_path: Path) -> None:
    path = write(tmp_path / "table.csv", "model_a,winner\nx,model_a\ny,tie\n")
    fails(path, None, "model_b", "missing required column")


def test_csv_bad_label_counts_quoted_newlines(tmp_path: Path) -> None:
    text = 'model_a,model_b,winner,prompt\nx,y,model_a,"two\nlines"\n\nx,y,draw,p\n'
    path = write(tmp_path / "table.csv", text)
    fails(path, 5, "winner", "unknown winner label 'draw'")


def test_csv_ragged_row(tmp_path: Path) -> None:
    path = write(tmp_path / "table.csv", "model_a,model_b,winner\nx,y,tie\nx,y\n")
    fails(path, 3, None, "expected 3 fields")


def test_csv_numeric_label(tmp_path: Path) -> None:
    path = write(tmp_path / "table.csv", "model_a,model_b,winner\nx,y,tie\nx,y,1\n")
    fails(path, 3, "winner", "unknown winner label '1'")


@pytest.mark.parametrize("name", ["empty.jsonl", "empty.json", "empty.csv", "empty.jsonl.gz"])
@pytest.mark.parametrize("text", ["", "\n\n  \n"])
def test_empty_file(tmp_path: Path, name: str, text: str) -> None:
    path = write(tmp_path / name, text)
    fails(path, None, None, "empty")


def test_empty_json_array(tmp_path: Path) -> None:
    fails(write(tmp_path / "a.json", "[]"), None, None, "empty")


def test_header_only_csv(tmp_path: Path) -> None:
    fails(write(tmp_path / "t.csv", "model_a,model_b,winner\n"), None, None, "no comparisons")


def test_wrong_types(tmp_path: Path) -> None:
    fails(write(tmp_path / "a.jsonl", lines(OK, OK | {"model_a": ["x"]})), 2, "model_a", "expected a string")
    fails(write(tmp_path / "b.jsonl", lines(OK, OK | {"tstamp": "yesterday"})), 2, "tstamp", "expected a number")
    fails(write(tmp_path / "c.jsonl", lines(OK, OK | {"turn": 1.5})), 2, "turn", "integer")
    fails(
        write(tmp_path / "d.jsonl", lines({"model_a": "a", "model_b": "b", "prob_a": {"p": 1}})),
        1,
        "prob_a",
        "expected a number",
    )
    fails(write(tmp_path / "e.jsonl", lines({"model_a": "a", "model_b": "b", "prob_a": 1.5})), 1, "prob_a", "[0, 1]")
    fails(write(tmp_path / "f.jsonl", lines(OK, "[1, 2]")), 2, None, "JSON object")


def test_empty_model_name(tmp_path: Path) -> None:
    fails(write(tmp_path / "a.jsonl", lines(OK, OK, OK | {"model_b": " "})), 3, "model_b", "missing model name")


def test_invalid_utf8(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(lines(OK, OK).encode() + b'{"model_a": "\xff\xfe", "model_b": "b", "winner": "tie"}\n')
    fails(path, 3, None, "UTF-8")


def test_truncated_gzip(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl.gz"
    path.write_bytes(gzip.compress(lines(*[OK] * 2000).encode())[:300])
    fails(path, None, None, "truncated")


def annotation(pref: Any) -> dict[str, Any]:
    return {"instruction": "i", "output_1": "x", "generator_1": "base", "output_2": "y", "generator_2": "m",
            "annotator": "j", "preference": pref}


@pytest.mark.parametrize("pref", [3, -1, 0.5, 2.0001, "abc", "", True, [1.5], {"p": 1}, "inf"])
def test_bad_preference(tmp_path: Path, pref: Any) -> None:
    path = write(tmp_path / "annotations.json", json.dumps([annotation(1.0), annotation(pref)]))
    err = fails(path, 2, "preference")
    assert "record 2 of the JSON array" in err.message


def test_all_preferences_unparsed(tmp_path: Path) -> None:
    path = write(tmp_path / "annotations.json", json.dumps([annotation(None), annotation(None)]))
    fails(path, None, None, "every record was dropped")


def test_mt_bench_bad_turn(tmp_path: Path) -> None:
    rec = {"question_id": 81, "model_a": "a", "model_b": "b", "winner": "tie", "judge": "expert_1", "turn": 3,
           "category": "writing",
           "conversation_a": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "x"}],
           "conversation_b": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "y"}]}
    fails(write(tmp_path / "human.jsonl", lines(rec)), 1, "conversation_a", "turn 3")


def test_fastchat_unknown_label(tmp_path: Path) -> None:
    rec = {"question_id": 1, "model_1": "a", "model_2": "b", "g1_winner": "model_1", "g2_winner": "A", "turn": 1}
    fails(write(tmp_path / "gpt-4_pair.jsonl", lines(rec, rec)), 1, "g2_winner", "unknown winner label 'A'")


def test_arena_hard_unknown_score(tmp_path: Path) -> None:
    rec = {"uid": "u", "model": "m", "baseline": "b", "judge": "j", "games": [{"score": "A>>>B"}, {"score": "A>B"}]}
    fails(write(tmp_path / "m.jsonl", lines(rec)), 1, "score", "unknown verdict label")
    rec["games"] = [{"score": "A>B"}]
    assert len(read(write(tmp_path / "one.jsonl", lines(rec)))) == 1  # single-game (non-pairwise) configs
    rec["games"] = "A>B"
    fails(write(tmp_path / "bad.jsonl", lines(rec)), 1, "games", "list of 1 or 2 games")


def test_prd_bad_score_and_name(tmp_path: Path) -> None:
    folder = tmp_path / "ratings-human"
    folder.mkdir()
    ok = {"question_id": 1, "text": "q", "score": 1}
    path = write(folder / "answer_a-vs-answer_b-human-reviewer_threeclass.jsonl", lines(ok, ok | {"score": 4}))
    fails(path, 2, "score", "unknown score")
    unnamed = write(tmp_path / "ratings.jsonl", lines(ok))
    fails(unnamed, None, None, "file name")
    fails(unnamed, None, None, "file name", format="prd")


@pytest.mark.parametrize(
    ("record", "match"),
    [
        ({"instruction": "i", "output": "o", "generator": "g", "dataset": "d"}, "AlpacaEval model outputs"),
        ({"question_id": 81, "model": "m", "judge": ["gpt-4", "single-v1"], "score": 8, "turn": 1}, "single-answer"),
        ({"question_id": 81, "category": "writing", "turns": ["a", "b"]}, "questions"),
        ({"output": "A: Feedback 1 is better.", "cost": 0.03, "finish_reason": "stop"}, "API completions"),
        ({"uid": "u", "model": "m", "messages": []}, "model answers"),
        ({"foo": 1, "bar": 2}, "unrecognised format"),
    ],
)
def test_recognisably_something_else(tmp_path: Path, record: dict[str, Any], match: str) -> None:
    fails(write(tmp_path / "data.json", json.dumps([record])), None, None, match)


def test_parquet_wrong_column_type(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    pd.DataFrame({"model_a": ["a", "b"], "model_b": ["b", "c"], "winner": [1, 2]}).to_parquet(path)
    fails(path, None, "winner", "wrong column type")
    pd.DataFrame({"model_a": ["a", "b"], "model_b": ["b", "c"], "winner": ["tie", "draw"]}).to_parquet(path)
    err = fails(path, 2, "winner", "unknown winner label")
    assert "row 2 of the Parquet file" in err.message


def test_not_parquet(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    path.write_bytes(b"PAR1 this is not really parquet")
    fails(path, None, None, "Parquet")


def test_missing_file(tmp_path: Path) -> None:
    fails(tmp_path / "nope.jsonl", None, None, "no such file")
    with pytest.raises(InputError, match="no input files"):
        read([])
    (tmp_path / "empty_dir").mkdir()
    fails(tmp_path / "empty_dir", None, None, "no data files")
