"""Best-of-N picks, on RewardBench's AlpacaEval best-of-16 picks of 6 reward models.

The shared data hold, for each of 6 RMs, the one response (of 16 tulu-2-dpo-13b samples) it picked
per AlpacaEval prompt, but neither the 16 samples nor the RMs' per-sample scores (see
``reward-bench/SOURCE.md``).  So the pick logic is checked on what is there: the 6 picks of a
prompt are its samples; scoring them by "is RM r's pick" must give back RM r's published pick for
all 805 prompts, and identical texts picked by several RMs are genuine ties in the top score.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from referee.auditing.rewardbench import best_of_n_credit
from referee.errors import InputError
from referee.scoring.bestofn import best_of_n

EXE = str(Path(sys.executable).with_name("referee"))
BON = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "data"
    / "reward-bench"
    / "bon_eval"
    / "rm_bon_eval_results"
)


class TableScorer:
    """Scores from a dict (prompt, response) -> score."""

    def __init__(self, table: dict[tuple[str, str], float], name: str = "table") -> None:
        self.table, self.name = table, name

    def score(self, prompts, responses):
        return np.array([self.table.get((p, r), 0.0) for p, r in zip(prompts, responses, strict=True)])


@pytest.fixture(scope="module")
def picks() -> pd.DataFrame:
    files = sorted(BON.glob("*/*.model_outputs.json.gz"))
    if len(files) < 6:
        pytest.skip(f"shared data not found: {BON} (RewardBench AlpacaEval best-of-16 picks of 6 RMs)")
    rows = []
    for f in files:
        rm = f.parent.name + "/" + f.name.removesuffix(".model_outputs.json.gz")
        with gzip.open(f, "rt", encoding="utf-8") as fh:
            records = json.load(fh)
        for rec in records:
            assert rec["generator"] == rm + "-BoN"
            rows.append(
                {
                    "prompt_id": str(rec["id"]),
                    "prompt": rec["instruction"],
                    "response": rec["output"],
                    "model": rm,
                    "sample_id": rm,
                }
            )
    return pd.DataFrame(rows)


def test_the_data_is_what_source_md_says(picks):
    assert picks["model"].nunique() == 6 and picks.groupby("model").size().eq(805).all()
    assert picks.groupby("prompt_id")["prompt"].nunique().eq(1).all()


def test_scoring_by_an_rms_choice_gives_back_its_published_pick(picks):
    votes = Counter(zip(picks["prompt_id"], picks["response"], strict=True))
    for rm, mine in picks.groupby("model"):
        chosen = {(p, r): 1.0 for p, r in zip(mine["prompt"], mine["response"], strict=True)}
        out = best_of_n(picks, TableScorer(chosen, rm)).set_index("prompt_id")
        assert len(out) == 805 and (out["n_samples"] == 6).all() and (out["scorer"] == rm).all()
        published = mine.set_index("prompt_id")["response"]
        assert (out.loc[published.index, "response"] == published).all()
        # several RMs picked the identical text: those samples tie in the top score, and are reported
        expected = np.array([votes[(pid, text)] for pid, text in published.items()])
        assert (out.loc[published.index, "n_tied"].to_numpy() == expected).all()
        assert (out["tied"] == (out["n_tied"] > 1)).all() and out.attrs["n_tied"] == int((expected > 1).sum())
        tied = out[out["tied"]]
        assert all(
            len(json.loads(x)) == k for x, k in zip(tied["tied_sample_ids"], tied["n_tied"], strict=True)
        )


def test_consensus_picks_ties_and_the_one_over_k_credit(picks):
    """Score = how many of the 6 RMs picked the text: the pick is the consensus; 6 different picks tie 6 ways."""
    votes = Counter(zip(picks["prompt"], picks["response"], strict=True))
    out = best_of_n(picks, TableScorer({k: float(v) for k, v in votes.items()}, "votes")).set_index(
        "prompt_id"
    )
    for pid, grp in picks.groupby("prompt_id"):
        s = np.array(
            [votes[(p, r)] for p, r in zip(grp["prompt"], grp["response"], strict=True)], dtype=float
        )
        top = s.max()
        assert out.loc[pid, "score"] == top and out.loc[pid, "n_tied"] == (s == top).sum()
        assert (
            out.loc[pid, "sample_id"] == grp["sample_id"].iloc[int(np.argmax(s == top))]
        )  # first tied sample in input order
        # RewardBench v2's credit for the picked sample, given the others: 1 / n_tied
        i = int(np.argmax(s == top))
        credit = best_of_n_credit(np.array([s[i]]), np.delete(s, i)[None, :])[0]
        assert credit == pytest.approx(1.0 / out.loc[pid, "n_tied"])
    all_different = picks.groupby("prompt_id")["response"].nunique().eq(6)
    assert (out.loc[all_different[all_different].index, "n_tied"] == 6).all() and all_different.sum() == 142


def test_precomputed_scores_and_the_cli_with_the_length_scorer(picks, tmp_path):
    sub = picks[picks["prompt_id"].astype(int) < 50].copy()
    path = tmp_path / "samples.jsonl"
    sub.to_json(path, orient="records", lines=True)
    out = tmp_path / "picked.jsonl"
    proc = subprocess.run(
        [EXE, "best-of-n", str(path), "--scorer", "length", "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    picked = pd.read_json(out, lines=True, dtype={"prompt_id": str, "sample_id": str}).set_index("prompt_id")
    longest = sub.assign(n=sub["response"].str.len()).groupby("prompt_id")["n"].max()
    assert (picked.loc[longest.index, "score"] == longest).all() and (
        picked["response"].str.len() == picked["score"]
    ).all()
    assert "tied top score" in proc.stderr
    # the scores written by a scorer beforehand (a `score` column) pick the same
    scored = sub.assign(score=sub["response"].str.len().astype(float))
    again = best_of_n(scored).set_index("prompt_id")
    assert (again.loc[picked.index, "sample_id"] == picked["sample_id"]).all()


def test_bad_input():
    df = pd.DataFrame(
        {"prompt_id": ["1", "1"], "prompt": ["q", "q"], "response": ["a", "bb"], "sample_id": ["s", "s"]}
    )
    with pytest.raises(InputError, match="appears twice"):
        best_of_n(df, "length")
    with pytest.raises(InputError, match="no score column"):
        best_of_n(df.drop(columns="sample_id"))
    with pytest.raises(InputError, match="lacks column 'response'"):
        best_of_n(df.drop(columns="response"), "length")
    nan = pd.DataFrame(
        {"prompt_id": ["1", "1", "2"], "response": ["a", "b", "c"], "score": [1.0, np.nan, np.nan]}
    )
    out = best_of_n(nan)
    assert (
        out["response"].tolist() == ["a"]
        and out.attrs["nan_scores"] == 2
        and out.attrs["unscored_prompts"] == 1
    )
