"""MT-Bench's ``tie (inconsistent)`` → ``tie`` is counted, and said (issue 15, part 6; README's formats table).

GPT-4's pair judgments label 196 games ``tie (inconsistent)`` (its verdict changed when the
order was swapped); referee counts them as ties.  ``referee rank`` and ``referee audit`` print
that as a note and keep the count in the result's meta / JSON.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import referee
from referee.io import mapping_notes
from shared_data import DATA, need

pytestmark = pytest.mark.shared_data

MT = DATA / "mt-bench-human-judgments-partial" / "derived"
EXE = str(Path(sys.executable).with_name("referee"))
NOTE = "196 verdicts labelled 'tie (inconsistent)' are counted as 'tie'"
MAPPED = {"tie (inconsistent) -> tie": 196}


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EXE, *args], capture_output=True, text=True, timeout=300,
                          env={"COLUMNS": "300", "PATH": "/usr/bin:/bin", "HOME": str(Path.home())})


def test_the_note_says_what_was_mapped() -> None:
    assert mapping_notes(MAPPED) == [NOTE]
    assert mapping_notes({"both_bad -> tie (bothbad)": 1}) == ["1 verdict labelled 'both_bad' is counted as "
                                                               "'tie (bothbad)'"]
    assert mapping_notes({}) == mapping_notes(None) == []


def test_rank_prints_and_keeps_the_count(tmp_path: Path) -> None:
    path = need(MT / "gpt4_pair.jsonl.gz")
    board = referee.rank(path)
    assert board.meta["mapped"] == MAPPED and NOTE in board.meta["notes"]
    out = tmp_path / "board.json"
    proc = run("rank", str(path), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert NOTE in " ".join(proc.stdout.split())
    meta = json.loads(out.read_text())["meta"]
    assert meta["mapped"] == MAPPED and NOTE in meta["notes"]
    plain = referee.rank(need(MT / "human.jsonl.gz"))  # nothing mapped: no note, no count
    assert plain.meta["mapped"] is None and not any("counted as" in n for n in plain.meta["notes"] or [])


def test_audit_prints_and_keeps_the_count(tmp_path: Path) -> None:
    verdicts, gold = need(MT / "gpt4_pair.jsonl.gz"), need(MT / "human.jsonl.gz")
    out = tmp_path / "audit.json"
    proc = run("audit", str(verdicts), "--gold", str(gold), "--rounds", "0", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert NOTE in " ".join(proc.stdout.split())
    meta = json.loads(out.read_text())["meta"]
    assert meta["mapped"] == {"verdicts": MAPPED} and NOTE in meta["notes"]
    swapped = referee.audit(gold, verdicts, rounds=0, gold_judges=())  # the GPT-4 games as gold labels
    assert swapped.meta["mapped"] == {"gold": MAPPED} and f"gold: {NOTE}" in swapped.meta["notes"]
