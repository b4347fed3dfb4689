"""Probes with a real judge: SmolLM2-135M behind llama.cpp's OpenAI-compatible server, on EvalBiasBench pairs.

8 real pairs (the shortest, so that both responses fit SmolLM2's 2,048-token context) × 2 probes,
judged in both orders with the single-token ``pairwise-logprob`` template: the run completes, a re-run
is answered by the cache (0 calls), and the report renders.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from referee.io import read
from referee.probing import probe

EBB = Path(__file__).resolve().parents[2] / "shared" / "data" / "evalbiasbench" / "data" / "evalbiasbench" / "biasbench.json"


@pytest.mark.slow
def test_smollm2_probes_evalbiasbench_pairs_cached_and_reported(llama_server_url: str, tmp_path: Path) -> None:
    if not EBB.exists():
        pytest.skip(f"shared data not available: {EBB}")
    pairs = read(EBB)
    size = pairs["prompt"].str.len() + pairs["response_a"].str.len() + pairs["response_b"].str.len()
    short = pairs[size < 1500].reset_index(drop=True)
    assert len(short) >= 8
    spec = {"url": llama_server_url, "model": "smollm2"}
    opts = {"probes": ["bandwagon", "distractor"], "judge_spec": spec, "n": 8, "template": "pairwise-logprob",
            "cache": tmp_path / "cache.sqlite", "concurrency": 2, "announce": lambda _: None}
    first = probe(short, **opts)
    assert first.meta["usage"]["planned"] == 8 * 3 * 2  # (unedited + 2 probes) × both orders
    assert first.meta["usage"]["calls"] + first.meta["usage"]["cache_hits"] == 48
    for name in ("bandwagon", "distractor"):
        r = first.get(name)
        assert r is not None and r["n"] >= 8 and 0 <= r["value"] <= 1 and r["ci_low"] <= r["value"] <= r["ci_high"]
        assert r["q"] is not None
    again = probe(short, **opts)
    assert again.meta["usage"]["calls"] == 0 and again.meta["usage"]["cache_hits"] == 48
    assert again.to_dict()["probes"] == first.to_dict()["probes"]
    html, js = tmp_path / "probes.html", tmp_path / "probes.json"
    first.save(html)
    first.save(js)
    assert "bandwagon" in html.read_text() and "smollm2" in html.read_text()
    assert json.loads(js.read_text())["meta"]["n_pairs"] == 8
