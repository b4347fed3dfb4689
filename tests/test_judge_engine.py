"""The judge engine and the OpenAI-compatible backend against a real-socket fault-injection server.

Every test goes through a real ``OpenAIBackend`` over loopback TCP; the fault-mode tests run on
both transports (aiohttp, the default, and the optional openai SDK).  Timings are only ever
lower bounds that the engine must wait (Retry-After, rate limits), never performance assertions.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from fault_server import FaultServer
from referee.errors import InputError
from referee.judging.cache import Cache
from referee.judging.engine import Engine
from referee.judging.http import OpenAIBackend
from referee.judging.types import ChatRequest, ChatResult

TRANSPORTS = ["aiohttp", "sdk"]
HERE = Path(__file__).resolve().parent


@pytest.fixture
def server():
    with FaultServer() as srv:
        yield srv


def reqs(n: int, tag: str = "q", **kw) -> list[ChatRequest]:
    return [ChatRequest((("system", "judge"), ("user", f"{tag} {i}")), max_tokens=16, **kw) for i in range(n)]


def engine(srv: FaultServer, transport: str = "aiohttp", **kw) -> Engine:
    kw.setdefault("backoff", 0.01)
    backend = OpenAIBackend(srv.url, "judge-1", transport=transport, timeout=kw.pop("backend_timeout", 30.0))
    return Engine(backend, **kw)


# -- retries, timeouts, bad bodies -----------------------------------------------------------------
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_429_with_retry_after_and_500_are_retried_then_succeed(server, transport):
    server.retry_after = "0.3"
    server.script("429", "500")
    (res,), usage = engine(server, transport, concurrency=1).run_sync(reqs(1))
    calls = server.calls()
    assert [c.mode for c in calls] == ["429", "500", "ok"]
    assert res.text == "[[A]]" and res.error is None and res.retries == 2
    assert usage.calls == 3 and usage.retries == 2 and usage.failures == 0
    assert calls[1].start - calls[0].start >= 0.25  # Retry-After honoured


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_slow_answer_times_out_and_is_retried(server, transport):
    server.slow_s = 3.0
    server.script("slow")
    (res,), usage = engine(server, transport, concurrency=1, timeout=0.3).run_sync(reqs(1))
    assert [c.mode for c in server.calls()] == ["slow", "ok"]
    assert res.text == "[[A]]" and res.retries == 1 and usage.retries == 1


def test_backend_timeout_is_transient_too(server):
    server.slow_s = 3.0
    server.script("slow", "slow")
    (res,), _ = engine(server, concurrency=1, backend_timeout=0.3, retries=1).run_sync(reqs(1))
    assert res.text is None and "timeout" in res.error and len(server.calls()) == 2


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(
    ("mode", "says"),
    [
        ("truncated", '"chatcmpl-fault"'),  # the raw half body is kept in the error
        ("nonsense", "this is not JSON"),
        ("wrongshape", '"hello"'),
    ],
)
def test_bad_bodies_are_retried_then_recorded_as_failed(server, transport, mode, says, tmp_path):
    server.default = mode
    with Cache(tmp_path / "c.sqlite") as cache:
        got: list[tuple[int, ChatResult]] = []
        results, usage = engine(server, transport, cache=cache, concurrency=2, retries=2).run_sync(
            reqs(2), on_result=lambda i, r: got.append((i, r))
        )
        assert len(server.calls()) == 6  # 2 requests x (1 + 2 retries)
        assert all(r.text is None and r.retries == 2 and says in r.error for r in results)
        assert "not JSON" in results[0].error or "not a chat completion" in results[0].error
        assert usage.failures == 2 and usage.retries == 4 and sorted(i for i, _ in got) == [0, 1]
        assert len(cache) == 0  # failures are not cached: a re-run tries again
        server.default = "ok"
        results, usage = engine(server, transport, cache=cache).run_sync(reqs(2))
        assert [r.text for r in results] == ["[[A]]", "[[A]]"] and usage.calls == 2


def test_retries_exhausted_on_500_fail_without_raising(server):
    server.default = "500"
    results, usage = engine(server, retries=3).run_sync(reqs(3))
    assert all(r.text is None and "HTTP 500" in r.error for r in results)
    assert usage.calls == 12 and usage.failures == 3


def test_garbage_verdict_is_an_answer_not_an_error(server):
    server.script("garbage-verdict")
    (res,), usage = engine(server, concurrency=1).run_sync(reqs(1))
    assert res.error is None and res.text and "[[" not in res.text and usage.retries == 0


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_4xx_call_is_not_retried(server, transport):
    backend = OpenAIBackend(server.url, "no-such-model", transport=transport)
    (res,), usage = Engine(backend, backoff=0.01).run_sync(reqs(1))
    assert res.text is None and "no-such-model" in res.error and "404" in res.error
    assert usage.calls == 1 and usage.retries == 0 and usage.failures == 1


# -- answers ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_logprobs_and_usage_are_parsed(server, transport):
    server.answer = "B wins"
    server.logprobs = [("B", -0.2, [("B", -0.2), ("A", -1.9), ("tie", -3.0)]), (" wins", -0.01, [])]
    (res,), usage = engine(server, transport).run_sync(reqs(1, logprobs=True, top_logprobs=2))
    body = server.calls()[0].body
    assert body["logprobs"] is True and body["top_logprobs"] == 2 and body["max_tokens"] == 16
    assert res.text == "B wins" and res.finish_reason == "stop"
    assert res.logprobs == [("B", -0.2, [("B", -0.2), ("A", -1.9)]), (" wins", -0.01, [])]
    assert (res.prompt_tokens, res.completion_tokens) == (5, 2)  # the server counts words + 1 per message
    assert (usage.prompt_tokens, usage.completion_tokens) == (5, 2)


def test_results_in_request_order_and_streamed_with_progress(server):
    server.answer = lambda body: body["messages"][-1]["content"].upper()
    seen: list[int] = []
    ticks: list[tuple[int, int]] = []
    results, _ = engine(server, concurrency=5, progress=lambda d, t, u: ticks.append((d, t))).run_sync(
        reqs(40), on_result=lambda i, r: seen.append(i)
    )
    assert [r.text for r in results] == [f"Q {i}" for i in range(40)]
    assert sorted(seen) == list(range(40))
    assert ticks[-1] == (40, 40) and all(a <= b for (a, _), (b, _) in itertools.pairwise(ticks))


def test_identical_requests_are_sent_once(server):
    results, usage = engine(server).run_sync(reqs(3) + reqs(3))
    assert len(server.calls()) == 3 and usage.calls == 3
    assert all(r.text == "[[A]]" for r in results)


# -- budgets ----------------------------------------------------------------------------------------
def test_max_calls_stops_cleanly_with_partial_results(server):
    got = []
    results, usage = engine(server, concurrency=3, max_calls=5).run_sync(
        reqs(20), on_result=lambda i, r: got.append(i)
    )
    assert usage.stopped_by == "max_calls" and usage.calls == 5 and len(server.calls()) == 5
    done = [r for r in results if r is not None]
    assert len(done) == 5 == len(got) and all(r.text == "[[A]]" for r in done)


def test_max_calls_counts_retries(server):
    server.script("500", "500")
    results, usage = engine(server, concurrency=1, max_calls=4).run_sync(reqs(5))
    assert usage.calls == 4 and usage.stopped_by == "max_calls"
    assert sum(r is not None for r in results) == 2  # 3 calls for the first, 1 for the second


@pytest.mark.parametrize("concurrency", [1, 4])
def test_max_tokens_stops_before_the_cap(server, concurrency):
    server.completion_tokens = 10  # each call: 5 prompt + 10 completion tokens
    results, usage = engine(server, concurrency=concurrency, max_tokens=100).run_sync(reqs(30))
    spent = usage.prompt_tokens + usage.completion_tokens
    assert usage.stopped_by == "max_tokens"
    assert 100 - 2 * 15 < spent <= 100  # did not overshoot, did not stop far too early
    assert sum(r is not None for r in results) == usage.calls == len(server.calls()) == spent // 15


def test_max_cost_stops_before_the_cap(server):
    server.completion_tokens = 10
    eng = engine(server, concurrency=2, max_cost=0.11, price_in=1.0, price_out=2.0)  # 0.025 per call
    results, usage = eng.run_sync(reqs(30))
    assert usage.stopped_by == "max_cost" and usage.calls == 4
    assert usage.cost == pytest.approx(4 * (5 * 1.0 + 10 * 2.0) / 1000)
    assert [r is not None for r in results] == [True] * 4 + [False] * 26


def test_cache_hits_spend_no_budget(server, tmp_path):
    with Cache(tmp_path / "c.sqlite") as cache:
        engine(server, cache=cache).run_sync(reqs(4))
        results, usage = engine(server, cache=cache, max_calls=2).run_sync(reqs(10))
    assert usage.cache_hits == 4 and usage.calls == 2 and usage.stopped_by == "max_calls"
    assert sum(r is not None for r in results) == 6 and len(server.calls()) == 6


# -- concurrency, rate limits -----------------------------------------------------------------------
def test_concurrency_limit_is_respected(server):
    server.delay_s = 0.03
    engine(server, concurrency=3).run_sync(reqs(24))
    assert server.max_in_flight <= 3
    assert max(c.in_flight for c in server.calls()) >= 2  # and it does run calls in parallel


def _bucket_ok(times: list[float], rate: float, burst: float) -> bool:
    """No window [t_i, t_j] holds more calls than a token bucket could have released."""
    t = sorted(times)
    return all(j - i + 1 <= burst + rate * (t[j] - t[i]) + 1 for i in range(len(t)) for j in range(i, len(t)))


def test_rpm_limit_spaces_calls(server):
    engine(server, concurrency=8, rpm=1200).run_sync(reqs(40))  # 20/s, bursts of 20
    starts = [c.start for c in server.calls()]
    assert len(starts) == 40 and _bucket_ok(starts, 20.0, 20.0)
    assert max(starts) - min(starts) >= 0.8  # the 20 after the first burst took >= ~1 s


def test_tpm_limit_spaces_calls(server):
    server.completion_tokens = 10  # 15 tokens a call
    engine(server, concurrency=8, tpm=9000).run_sync(reqs(30))  # 150 tokens/s = 10 calls/s, bursts of 10
    starts = [c.start for c in server.calls()]
    assert len(starts) == 30 and _bucket_ok(starts, 10.0, 12.0)
    assert max(starts) - min(starts) >= 1.2


# -- cache ------------------------------------------------------------------------------------------
def test_rerun_with_cache_makes_zero_calls(server, tmp_path):
    path = tmp_path / "judge.sqlite"
    with Cache(path) as cache:
        first, u1 = engine(server, cache=cache, concurrency=4).run_sync(reqs(30, logprobs=True, top_logprobs=2))
    assert u1.calls == 30 and len(server.calls()) == 30
    with Cache(path) as cache:  # a new process would see the same file
        again, u2 = engine(server, cache=cache, concurrency=4).run_sync(reqs(30, logprobs=True, top_logprobs=2))
    assert len(server.calls()) == 30 and u2.calls == 0 and u2.cache_hits == 30
    assert all(r.cached for r in again)
    assert [(r.text, r.logprobs, r.prompt_tokens) for r in again] == [
        (r.text, r.logprobs, r.prompt_tokens) for r in first
    ]


def test_cache_separates_models_and_endpoints(server, tmp_path):
    server.models = ("judge-1", "judge-2")
    with Cache(tmp_path / "c.sqlite") as cache:
        Engine(OpenAIBackend(server.url, "judge-1"), cache=cache).run_sync(reqs(3))
        _, usage = Engine(OpenAIBackend(server.url, "judge-2"), cache=cache).run_sync(reqs(3))
    assert usage.calls == 3 and len(server.calls()) == 6


# -- check() ----------------------------------------------------------------------------------------
def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _check(backend: OpenAIBackend) -> None:
    async def go() -> None:
        try:
            await backend.check()
        finally:
            await backend.aclose()

    asyncio.run(go())


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_check_passes_and_fails_fast_with_clear_messages(server, transport):
    _check(OpenAIBackend(server.url, "judge-1", transport=transport))
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    with pytest.raises(InputError, match=r"cannot reach judge at http://127\.0\.0\.1:\d+/v1"):
        _check(OpenAIBackend(url, "judge-1", transport=transport))
    with pytest.raises(InputError, match=r"model 'gpt-9' not served at .*; available: judge-1"):
        _check(OpenAIBackend(server.url, "gpt-9", transport=transport))
    server.api_key = "right"
    with pytest.raises(InputError, match=r"judge key rejected \(env var JUDGE_KEY\)"):
        _check(OpenAIBackend(server.url, "judge-1", api_key="wrong", key_env="JUDGE_KEY", transport=transport))
    _check(OpenAIBackend(server.url, "judge-1", api_key="right", transport=transport))
    assert server.calls() == []  # no completion was paid for
    assert {c.path for c in server.calls("")} == {"/v1/models"}


def test_bad_url_is_an_input_error():
    with pytest.raises(InputError, match="judge URL"):
        OpenAIBackend("localhost:8000", "m")


# -- kill -9 and resume -----------------------------------------------------------------------------
def test_kill_and_resume_repeats_only_in_flight_calls(tmp_path):
    n, concurrency = 200, 4
    cache_path = tmp_path / "judge.sqlite"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE.parent / "src"), os.environ.get("PYTHONPATH", "")]))
    with FaultServer(delay_s=0.02) as srv:
        cmd = [sys.executable, str(HERE / "_judge_worker.py"), srv.url, str(cache_path), str(n), str(concurrency)]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while len(srv.calls()) < 50:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "worker made no progress"
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        first = srv.calls()
        assert len(first) < n  # killed midway
        with Cache(cache_path) as cache:
            kept = len(cache)
        assert len(first) - concurrency <= kept <= len(first)  # each answer was committed as it arrived

        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stdout + out.stderr
        second = srv.calls()[len(first) :]

    seen_first = Counter(c.content for c in first)
    seen_second = Counter(c.content for c in second)
    assert max(seen_first.values()) == 1 and max(seen_second.values()) == 1  # no run repeats itself
    repeated = set(seen_first) & set(seen_second)
    assert len(repeated) <= concurrency  # only the calls in flight at the kill were sent again
    assert len(second) == n - kept
    assert len(set(seen_first) | set(seen_second)) == n
    with Cache(cache_path) as cache:
        assert len(cache) == n


def test_odd_unicode_round_trips(server):
    server.answer = lambda body: body["messages"][-1]["content"][::-1]
    text = "Ünïcödé ✓ 😀 \udc80 \x00 \"q\""
    (res,), _ = engine(server).run_sync([ChatRequest((("user", text),))])
    assert res.text == text[::-1]


def test_an_error_in_on_result_propagates_as_is(server):
    def boom(i: int, r: ChatResult) -> None:
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        engine(server, concurrency=4).run_sync(reqs(10), on_result=boom)


# -- the aiohttp client against other HTTP framings ------------------------------------------------
_BODY = b'{"choices":[{"message":{"role":"assistant","content":"[[B]]"},"finish_reason":"stop"}]}'


async def _serve_framed(framing: str, n: int) -> tuple[list[str], int]:
    """Answer ``n`` sequential calls through a tiny stream server that frames responses its way."""
    seen: list[str] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                break
            length = next(int(h.split(b":")[1]) for h in head.split(b"\r\n") if h.lower().startswith(b"content-length"))
            seen.append((await reader.readexactly(length)).decode())
            if framing == "chunked":  # split across writes, with a trailer
                writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                for part in (_BODY[:7], _BODY[7:]):
                    writer.write(b"%x\r\n%s\r\n" % (len(part), part))
                    await writer.drain()
                    await asyncio.sleep(0.005)
                writer.write(b"0\r\nX-Trailer: 1\r\n\r\n")
            elif framing == "until-close":  # HTTP/1.0 style: no length, the end of the body is the close
                writer.write(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n" + _BODY)
            else:  # "drops-keepalive": a proper response, then the server hangs up without saying so
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(_BODY), _BODY))
            await writer.drain()
            if framing != "chunked":
                break
        writer.close()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    backend = OpenAIBackend(f"http://127.0.0.1:{srv.sockets[0].getsockname()[1]}/v1", "m", transport="aiohttp")
    texts = []
    async with srv:
        for i in range(n):
            texts.append((await backend.complete(ChatRequest((("user", f"call {i}"),)))).text)
            await asyncio.sleep(0.01)
        await backend.aclose()
    return texts, len(seen)


@pytest.mark.parametrize("framing", ["chunked", "until-close", "drops-keepalive"])
def test_client_reads_every_framing_and_reconnects(framing):
    texts, served = asyncio.run(_serve_framed(framing, 4))
    assert texts == ["[[B]]"] * 4 and served == 4  # nothing sent twice


# -- a real OpenAI-compatible server -----------------------------------------------------------------
def test_real_llama_server_through_every_transport(llama_server_url):
    from llama_server import MODEL_ALIAS

    req = ChatRequest((("user", "Answer with one letter: A or B?"),), max_tokens=2, logprobs=True, top_logprobs=3)
    answers = []
    for transport in TRANSPORTS:
        backend = OpenAIBackend(llama_server_url, MODEL_ALIAS, transport=transport)
        _check(backend)
        (res,), usage = Engine(backend).run_sync([req])
        assert res.error is None and res.completion_tokens >= 1 and usage.prompt_tokens > 5
        assert res.logprobs and all(len(alts) == 3 and lp <= 0 for _, lp, alts in res.logprobs)
        answers.append((res.text, [t for t, _, _ in res.logprobs]))
        with pytest.raises(InputError, match=f"not served .*available: {MODEL_ALIAS}"):
            _check(OpenAIBackend(llama_server_url, "gpt-4o", transport=transport))
    # temperature 0: the same tokens whatever the transport (logprobs wobble with llama.cpp's prompt cache)
    assert answers[0] == answers[1]
