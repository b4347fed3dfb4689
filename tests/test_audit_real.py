"""The audit on real public data in ../shared/data (skipped when it is absent).

Expected values are derived here from the raw files by independent, plain computations
(json / pandas), never copied from the audit itself.
"""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import referee
from shared_data import DATA, need

MT = DATA / "mt-bench-human-judgments-partial" / "derived"
PRD = DATA / "prd-peer-rank" / "data" / "vicuna80"
REVIEWERS = ("gpt4", "gpt35", "claude", "bard", "vicuna-13b")
pytestmark = pytest.mark.shared_data


def test_mt_bench_gpt4_vs_human_agreement_without_ties():
    human, gpt4 = need(MT / "human.jsonl.gz"), need(MT / "gpt4_pair.jsonl.gz")
    # independent: join on (question, models, turn); a tie on either side drops the pair
    h = pd.read_json(human, lines=True)
    g = pd.read_json(gpt4, lines=True)
    g["winner"] = g["winner"].replace({"tie (inconsistent)": "tie"})
    m = h.merge(g, on=["question_id", "model_a", "model_b", "turn"], suffixes=("_h", "_g"))
    m = m[(m["winner_h"] != "tie") & (m["winner_g"] != "tie")]
    expected = float((m["winner_h"] == m["winner_g"]).mean())
    rep = referee.audit(gpt4, gold=human, rounds=200, seed=0)
    got = rep.judges["gpt4_pair"]["details"]["agreement_no_ties"]
    assert got["n"] == len(m) == 1118
    assert got["value"] == pytest.approx(expected, abs=1e-12)
    assert round(100 * got["value"], 1) == 85.6
    assert got["ci_low"] < got["value"] < got["ci_high"]
    assert rep.meta["alignment"]["gold_items_matched"] == rep.meta["alignment"]["gold_items"]
    # one presentation order per pair: the first-position rate is reported but not flagged
    assert not any(f["metric"] == "first_position_rate" for f in rep.judges["gpt4_pair"]["flags"])


def _terminal_table(out: str, judge: str) -> dict[str, tuple[str, str]]:
    """The summary table of ``referee audit``'s terminal output: header → (value, CI) of ``judge``'s row."""
    lines = out.splitlines()
    heads: list[list[str]] = []
    for line in lines:
        if line.startswith("┃"):
            cells = [c.strip() for c in line.split("┃")[1:-1]]
            heads = heads or [[] for _ in cells]
            for h, c in zip(heads, cells, strict=True):
                if c:
                    h.append(c)
    row = next(i for i, line in enumerate(lines) if line.startswith(f"│ {judge} "))
    values = [c.strip() for c in lines[row].split("│")[1:-1]]
    cis = [c.strip() for c in lines[row + 1].split("│")[1:-1]]
    return {" ".join(h): (v, ci) for h, v, ci in zip(heads, values, cis, strict=True)}


@pytest.mark.parametrize("policy", ["exclude", "half"])
def test_mt_bench_terminal_shows_agreement_with_and_without_ties(policy, tmp_path):
    human, gpt4 = need(MT / "human.jsonl.gz"), need(MT / "gpt4_pair.jsonl.gz")
    out_json, out_md = tmp_path / "audit.json", tmp_path / "audit.md"
    exe = str(Path(sys.executable).with_name("referee"))
    args = [str(gpt4), "--gold", str(human), "--rounds", "200", "--seed", "0", "--tie-policy", policy]
    res = subprocess.run([exe, "audit", *args, "-o", str(out_json)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    subprocess.run([exe, "audit", *args, "-q", "-o", str(out_md)], check=True, capture_output=True, timeout=120)
    rep = json.loads(out_json.read_text())["judges"]["gpt4_pair"]
    shown = _terminal_table(res.stdout, "gpt4_pair")
    md = out_md.read_text()
    for label, m in (("agree w/o ties", rep["details"]["agreement_no_ties"]),
                     ("agree w/ ties", rep["details"]["agreement"]),
                     ("accuracy", rep["accuracy"])):
        assert shown[label] == (f"{m['value']:.3f}", f"[{m['ci_low']:.3f}–{m['ci_high']:.3f}]"), label
        assert f"{m['value']:.3f} [{m['ci_low']:.3f}, {m['ci_high']:.3f}]" in md, label
    # the published number (MT-Bench: without ties) whatever the policy, with ties beside it
    no_ties, ties = rep["details"]["agreement_no_ties"], rep["details"]["agreement"]
    assert shown["agree w/o ties"][0] == "0.856" and no_ties["n"] == 1118
    assert shown["agree w/ ties"][0] == "0.673" and ties["n"] == 1751
    assert f"agreement_no_ties: {no_ties['value']:.3f}" in md and "(n = 1,118)" in md
    assert f"tie policy {policy}" in res.stdout and "MT-Bench's 'without ties'" in res.stdout
    # accuracy follows the policy; the two agreements do not
    assert shown["accuracy"][0] == {"exclude": "0.717", "half": "0.791"}[policy]


# --------------------------------------------------------------------------------------------- PRD
def _raw_prd() -> pd.DataFrame:
    """All LLM-reviewer ratings: reviewer, question, model 1 (shown first), model 2, score 1/2/3."""
    rows = []
    for rev in REVIEWERS:
        folder = need(PRD / f"ratings-{rev}")
        pat = re.compile(r"answer[_-](.+?)-vs-answer[_-](.+)-" + re.escape(rev) + r"-reviewer")
        for f in sorted(folder.iterdir()):
            m = pat.match(f.name)
            assert m, f.name
            opener = gzip.open if f.suffix == ".gz" else open
            with opener(f, "rt", encoding="utf-8") as fh:
                for line in fh:
                    if line.strip():
                        rec = json.loads(line)
                        rows.append((rev, str(rec["question_id"]), m[1], m[2], int(rec["score"])))
    return pd.DataFrame(rows, columns=["reviewer", "q", "m1", "m2", "score"])


def _cluster_ci(num: pd.Series, den: pd.Series, rounds: int = 2000, seed: int = 1) -> tuple[float, float]:
    """Plain bootstrap over questions, one round at a time (independent of the audit's code)."""
    rng = np.random.default_rng(seed)
    n, d = num.to_numpy(), den.to_numpy()
    vals = []
    for _ in range(rounds):
        pick = rng.integers(0, n.size, n.size)
        vals.append(n[pick].sum() / d[pick].sum())
    lo, hi = np.quantile(vals, [0.025, 0.975])
    return float(lo), float(hi)


def _expect_flag(lo: float, hi: float, band: tuple[float | None, float | None], margin: float = 0.01):
    """True / False when the independent CI is clearly outside / inside-or-overlapping, None when borderline."""
    blo, bhi = band
    edges = [e for e in (blo, bhi) if e is not None]
    if any(abs(lo - e) < margin or abs(hi - e) < margin for e in edges):
        return None
    return (bhi is not None and lo > bhi) or (blo is not None and hi < blo)


@pytest.fixture(scope="module")
def prd():
    raw = _raw_prd()
    paths = [need(PRD / f"ratings-{r}") for r in (*REVIEWERS, "human")]  # the human ratings are the gold labels
    return raw, referee.audit(paths, rounds=1000, seed=0)


def test_prd_position_bias_of_the_five_reviewers(prd):
    raw, rep = prd
    band = tuple(rep.meta["bands"]["first_position_rate"])
    clear = 0
    for rev in REVIEWERS:
        r = raw[(raw["reviewer"] == rev) & raw["score"].isin([1, 2])]
        expected = float((r["score"] == 1).mean())
        got = rep.judges[rev]["first_position_rate"]
        assert got["value"] == pytest.approx(expected, abs=1e-12), rev
        assert got["n"] == len(r)
        per_q = r.assign(first=(r["score"] == 1).astype(float), one=1.0).groupby("q")[["first", "one"]].sum()
        lo, hi = _cluster_ci(per_q["first"], per_q["one"])
        want = _expect_flag(lo, hi, band)
        flagged = any(f["metric"] == "first_position_rate" for f in rep.judges[rev]["flags"])
        if want is not None:
            clear += 1
            assert flagged == want, (rev, expected, lo, hi)
        # every pair was judged in both orders
        assert rep.judges[rev]["details"]["position"]["balanced"]
    assert clear >= 4
    assert any(f["metric"] == "first_position_rate" for f in rep.judges["bard"]["flags"])  # 0.81 first-shown
    assert not any(f["metric"] == "first_position_rate" for f in rep.judges["gpt35"]["flags"])


def _own_credit(df: pd.DataFrame, rev: str) -> pd.DataFrame:
    one = (df["m1"] == rev) != (df["m2"] == rev)
    d = df[one]
    own_first = d["m1"] == rev
    credit = np.where(d["score"] == 3, 0.5, ((d["score"] == 1) & own_first) | ((d["score"] == 2) & ~own_first))
    return d.assign(credit=credit.astype(float), one=1.0)


def test_prd_self_preference_of_the_five_reviewers(prd):
    raw, rep = prd
    band = tuple(rep.meta["bands"]["self_preference"])
    rng = np.random.default_rng(2)
    for rev in REVIEWERS:
        own = _own_credit(raw[raw["reviewer"] == rev], rev)
        ref = _own_credit(raw[raw["reviewer"] != rev], rev)
        expected = own["credit"].mean() - ref["credit"].mean()
        got = rep.judges[rev]["self_preference"]
        assert got["value"] == pytest.approx(expected, abs=1e-12), rev
        qo = own.groupby("q")[["credit", "one"]].sum()
        qr = ref.groupby("q")[["credit", "one"]].sum().reindex(qo.index, fill_value=0.0)
        o, r = qo.to_numpy(), qr.to_numpy()
        vals = []
        for _ in range(2000):
            pick = rng.integers(0, len(o), len(o))
            so, sr = o[pick].sum(axis=0), r[pick].sum(axis=0)
            vals.append(so[0] / so[1] - sr[0] / sr[1])
        lo, hi = np.quantile(vals, [0.025, 0.975])
        want = _expect_flag(float(lo), float(hi), band)
        flagged = any(f["metric"] == "self_preference" for f in rep.judges[rev]["flags"])
        if want is not None:
            assert flagged == want, (rev, expected, lo, hi)
    assert any(f["metric"] == "self_preference" for f in rep.judges["gpt4"]["flags"])


def test_prd_accuracy_against_the_human_ratings(prd):
    _, rep = prd
    a = rep.meta["alignment"]
    assert a["aligned"] == a["verdicts"]  # every LLM verdict has human ratings on the same pair
    for rev in REVIEWERS:
        acc = rep.judges[rev]["accuracy"]
        assert 0.5 < acc["value"] < 0.7
    assert rep.agreement_matrix["labels"][-1] == "gold"
