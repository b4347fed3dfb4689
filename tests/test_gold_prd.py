"""PRD: both presentation orders of an LLM reviewer's verdicts, and the human votes, share ``pair_id``."""

from __future__ import annotations

import gzip
import json

import pytest

import referee
from referee.io import read
from referee.io.prd import parse_name
from shared_data import DATA, need

PRD = DATA / "prd-peer-rank" / "data" / "vicuna80"
pytestmark = pytest.mark.shared_data
REVIEWERS = ("gpt4", "claude", "bard", "vicuna-13b")


def raw_scores(reviewer: str) -> dict[tuple[str, str, int], int]:
    """(model shown first, model shown second, question) -> score 1/2/3, straight from the files."""
    out = {}
    for path in sorted(need(PRD / f"ratings-{reviewer}").glob("*.jsonl*")):
        m1, m2, _ = parse_name(path)
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt") as fh:
            for line in fh:
                if line.strip():
                    rec = json.loads(line)
                    out[(m1, m2, int(rec["question_id"]))] = int(rec["score"])
    return out


@pytest.fixture(scope="module")
def report():
    return referee.audit([need(PRD / "ratings-human")] + [PRD / f"ratings-{r}" for r in REVIEWERS], rounds=0)


def test_pair_id_links_both_orders_and_the_human_votes() -> None:
    df = read([need(PRD / "ratings-human"), PRD / "ratings-gpt4"])
    gpt4 = df[df["judge"] == "gpt4"]
    orient = gpt4["model_a"] < gpt4["model_b"]
    both = gpt4.groupby("pair_id").apply(lambda g: set(orient[g.index]), include_groups=False)
    assert len(both) == 800 and (both == {True, False}).all()  # 10 model pairs x 80 questions, both orders
    human = df[df["judge"] == "human"]
    assert gpt4["pair_id"].isin(human["pair_id"]).all()
    assert gpt4["pair_id"].iloc[0] == "1|bard|claude"


@pytest.mark.parametrize("reviewer", REVIEWERS)
def test_position_consistency_matches_the_raw_files(report, reviewer: str) -> None:
    scores = raw_scores(reviewer)
    swap = {1: 2, 2: 1, 3: 3}
    pairs = [(k, scores[(k[1], k[0], k[2])]) for k in scores if k[0] < k[1] and (k[1], k[0], k[2]) in scores]
    consistent = sum(scores[k] == swap[s2] for k, s2 in pairs)
    got = report.judges[reviewer]["position_consistency"]
    assert got["n"] == len(pairs) == 800
    assert got["value"] == consistent / len(pairs)
