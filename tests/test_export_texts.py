"""``export-pairs`` from a judge run's reconciled verdicts, which carry no texts (issue 15, part 7).

A real judge run: ``referee judge`` (a subprocess) calls a scripted OpenAI-compatible judge over a
real socket (``tests/fault_server.py``) on real AlpacaEval outputs; the judge prefers the longer
response, whatever the order.  ``referee export-pairs verdicts.reconciled.jsonl`` must give the
complete ``prompt/chosen/rejected`` rows: texts from the per-order file beside it, or from
``--outputs``; where neither has them, one clear error naming what is missing.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from fault_server import FaultServer
from referee.errors import InputError
from referee.io import read
from referee.io.outputs import read_outputs
from referee.scoring.export import export_pairs, per_order_file
from shared_data import DATA, need

EXE = str(Path(sys.executable).with_name("referee"))
ALPACA = DATA / "alpaca_eval" / "results"
MODELS = ("gpt4_1106_preview", "alpaca-7b", "Mistral-7B-Instruct-v0.2")
N_PROMPTS = 15


def shown(body: dict, tag: str) -> str:
    user = body["messages"][-1]["content"]
    m = re.search(rf"<{tag}>\n(.*?)\n</{tag}>", user, re.S)
    return m.group(1) if m else ""


def longer_judge(body: dict) -> str:
    """Prefers the longer response shown (a tie when equally long), so both orders agree."""
    la, lb = len(shown(body, "assistant_a_response")), len(shown(body, "assistant_b_response"))
    return f"The longer answer is better.\n\n[[{'A' if la > lb else 'B' if lb > la else 'C'}]]"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EXE, *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first prompts of three AlpacaEval models' real outputs, as one generic outputs file."""
    df = read_outputs([need(ALPACA / m / "model_outputs.json.xz") for m in MODELS])
    keep = df["prompt_id"].drop_duplicates().iloc[:N_PROMPTS]
    df = df[df["prompt_id"].isin(keep)]
    path = tmp_path_factory.mktemp("outputs") / "outputs.jsonl"
    df.to_json(path, orient="records", lines=True, force_ascii=False)
    return path


@pytest.fixture(scope="module")
def run(outputs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``referee judge`` against the scripted judge: the per-order and the reconciled verdicts."""
    out = tmp_path_factory.mktemp("judge") / "verdicts.jsonl"
    with FaultServer(answer=longer_judge) as srv:
        proc = cli("judge", "--outputs", str(outputs), "--baseline", MODELS[0], "--judge-url", srv.url,
                   "--judge-model", "judge-1", "--no-cache", "-o", str(out))
        assert proc.returncode == 0, proc.stderr
        assert len(srv.calls()) == 2 * 2 * N_PROMPTS  # 2 models vs the baseline, both orders
    assert per_order_file(out.with_name("verdicts.reconciled.jsonl")) == out
    return out


def expected_pairs(outputs: Path) -> set[tuple[str, str, str]]:
    """(prompt, chosen, rejected): each model against the baseline, the longer response chosen."""
    df = pd.read_json(outputs, lines=True, dtype={"prompt_id": str})
    base = df[df["model"] == MODELS[0]].set_index("prompt_id")
    out = set()
    for rec in df[df["model"] != MODELS[0]].itertuples():
        a, b = rec.response, base.loc[rec.prompt_id, "response"]
        if len(a) != len(b):
            out.add((rec.prompt, *((a, b) if len(a) > len(b) else (b, a))))
    return out


def pairs_of(path: Path) -> set[tuple[str, str, str]]:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert all(set(r) == {"prompt", "chosen", "rejected"} for r in rows)
    assert all(r["prompt"] and r["chosen"] and r["rejected"] for r in rows)
    return {(r["prompt"], r["chosen"], r["rejected"]) for r in rows}


@pytest.mark.shared_data
def test_reconciled_verdicts_take_their_texts_from_the_per_order_file(run: Path, outputs: Path) -> None:
    reconciled = run.with_name("verdicts.reconciled.jsonl")
    assert "response_a" not in read(reconciled).columns  # what the issue is about
    got = run.with_name("from_reconciled.jsonl")
    proc = cli("export-pairs", str(reconciled), "-o", str(got))
    assert proc.returncode == 0, proc.stderr
    assert "texts from" in proc.stderr and "verdicts.jsonl" in proc.stderr
    want = expected_pairs(outputs)
    assert len(want) >= 2 * N_PROMPTS - 2
    assert pairs_of(got) == want
    # the README's other route, the per-order file (its two games per pair written once), agrees
    per_order = run.with_name("from_games.jsonl")
    proc = cli("export-pairs", str(run), "-o", str(per_order))
    assert proc.returncode == 0, proc.stderr
    assert pairs_of(per_order) == want


@pytest.mark.shared_data
def test_outputs_option_and_the_errors_when_texts_are_missing(run: Path, outputs: Path, tmp_path: Path) -> None:
    alone = tmp_path / "verdicts.reconciled.jsonl"  # moved away from its per-order file
    shutil.copy(run.with_name("verdicts.reconciled.jsonl"), alone)
    proc = cli("export-pairs", str(alone), "-o", str(tmp_path / "p.jsonl"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1
    assert str(alone) in proc.stderr and "pairs need the texts" in proc.stderr and "--outputs" in proc.stderr
    # --outputs (greedy: a shell glob's files all belong to it) joins the texts by prompt_id and model
    got = tmp_path / "pairs.jsonl"
    proc = cli("export-pairs", str(alone), "--outputs", str(outputs), "-o", str(got))
    assert proc.returncode == 0, proc.stderr
    assert pairs_of(got) == expected_pairs(outputs)
    # outputs without one of the judged models: the error names the model and the prompt
    partial = tmp_path / "partial.jsonl"
    df = pd.read_json(outputs, lines=True, dtype={"prompt_id": str})
    df[df["model"] != MODELS[2]].to_json(partial, orient="records", lines=True, force_ascii=False)
    proc = cli("export-pairs", str(alone), "--outputs", str(partial), "-o", str(tmp_path / "x.jsonl"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert str(partial) in proc.stderr and f"model '{MODELS[2]}'" in proc.stderr and "prompt_id" in proc.stderr
    assert f"no texts for {N_PROMPTS} of {2 * N_PROMPTS} comparisons" in proc.stderr


@pytest.mark.shared_data
def test_library_outputs_parameter(run: Path, outputs: Path) -> None:
    reconciled = read(run.with_name("verdicts.reconciled.jsonl"))
    table = read_outputs(outputs)
    by_frame = export_pairs(reconciled, outputs=table)
    by_file = export_pairs(run.with_name("verdicts.reconciled.jsonl"), outputs=str(outputs))
    want = expected_pairs(outputs)
    for pairs in (by_frame, by_file):
        assert set(pairs[["prompt", "chosen", "rejected"]].itertuples(index=False, name=None)) == want
    assert by_file.attrs["texts_from"] == str(outputs)
    with pytest.raises(InputError, match="model_a"):
        export_pairs(reconciled.drop(columns="model_a"), outputs=table)
