"""The OpenAI-compatible backend's one error mapping and its response-size cap, over real sockets.

Every case talks HTTP (or HTTPS) to a real local server: :class:`FaultServer` for scripted faults,
a closed port for a refused connection, a self-signed certificate (made by the ``openssl`` CLI)
for TLS.  No timings are asserted.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import ssl
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from fault_server import FaultServer
from referee.errors import InputError
from referee.judging.engine import Engine
from referee.judging.http import MAX_RESPONSE_BYTES, OpenAIBackend
from referee.judging.types import ChatRequest, TransientError

HERE = Path(__file__).resolve().parent
REQ = ChatRequest((("system", "judge"), ("user", "A or B?")), max_tokens=16)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(backend: OpenAIBackend, call: Callable[[OpenAIBackend], Awaitable[object]]) -> object:
    """``call(backend)`` in a fresh loop, closing the backend's connections after."""

    async def go() -> object:
        try:
            return await call(backend)
        finally:
            await backend.aclose()

    return asyncio.run(go())


def _complete(backend: OpenAIBackend) -> object:
    return _run(backend, lambda b: b.complete(REQ))


# -- one error per failure -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("mode", "error", "says"),
    [
        ("429", TransientError, r"HTTP 429 from http://127\.0\.0\.1:\d+/v1: Rate limit reached"),
        ("503", TransientError, r"HTTP 503 from .*: The server had an error"),
        ("slow", TransientError, r"no answer from http://127\.0\.0\.1:\d+/v1: timeout after 0\.3s"),
        ("drop", TransientError, r"no answer from .*: connection error: ServerDisconnectedError"),
        ("badhttp", TransientError, r"no answer from .*: malformed HTTP response"),
        ("truncated", TransientError, r"response is not JSON: \{\"id\": \"chatcmpl-fault\""),
        ("nonsense", TransientError, r"response is not JSON: <html>"),
        ("wrongshape", TransientError, r"response is not a chat completion: \{\"hello\""),
        ("401", InputError, r"judge key rejected by .* \(401: Incorrect API key provided\)"),
        ("huge", InputError, r"larger than the 16 MiB limit \(16,777,\d+ bytes announced\)"),
        ("huge-chunked", InputError, r"larger than the 16 MiB limit \(\d[\d,]* bytes read so far\)"),
    ],
)
def test_each_failure_maps_to_one_clear_error(mode, error, says):
    with FaultServer(slow_s=3.0, retry_after="7") as srv:
        srv.script(mode)
        with pytest.raises(error, match=says) as got:
            _complete(OpenAIBackend(srv.url, "judge-1", timeout=0.3 if mode == "slow" else 30.0))
        assert type(got.value) is error
        if mode == "429":
            assert got.value.retry_after == 7.0
        # the same backend settings answer the next call: nothing stays broken
        assert _complete(OpenAIBackend(srv.url, "judge-1")).text == "[[A]]"


def test_refused_connection_is_transient_for_a_call_and_an_input_error_for_check():
    backend = OpenAIBackend(f"http://127.0.0.1:{_closed_port()}/v1", "judge-1")
    with pytest.raises(TransientError, match=r"no answer from http://127\.0\.0\.1:\d+/v1: cannot connect: .*111"):
        _complete(backend)
    with pytest.raises(InputError, match=r"cannot reach judge at http://127\.0\.0\.1:\d+/v1 \(cannot connect: "):
        _run(backend, lambda b: b.check())


# -- the response-size cap -------------------------------------------------------------------------
def test_a_response_just_under_the_cap_is_read_and_one_over_it_is_refused():
    with FaultServer(huge_bytes=MAX_RESPONSE_BYTES) as srv:
        srv.script("huge-chunked")
        assert _complete(OpenAIBackend(srv.url, "judge-1")).text == "[[A]]"  # exactly 16 MiB: fine
        srv.huge_bytes = MAX_RESPONSE_BYTES + 1
        srv.script("huge-chunked")
        with pytest.raises(InputError, match="16 MiB limit") as got:
            _complete(OpenAIBackend(srv.url, "judge-1"))
        assert got.value.field == "max_response_bytes"


def test_the_cap_is_configurable_and_an_oversized_answer_is_not_retried():
    with FaultServer(huge_bytes=5000) as srv:
        srv.default = "huge"
        backend = OpenAIBackend(srv.url, "judge-1", max_response_bytes=4096)
        (res,), usage = Engine(backend, retries=3, backoff=0.01).run_sync([REQ])
        assert res.text is None and "larger than the 0.00390625 MiB limit (5,000 bytes announced)" in res.error
        assert usage.calls == 1 and usage.retries == 0 and usage.failures == 1  # a retry would pay again
        assert len(srv.calls()) == 1


# -- proxies from the environment ------------------------------------------------------------------
def test_http_proxy_from_the_environment_is_used_and_no_proxy_bypasses_it(monkeypatch):
    with FaultServer() as proxy:
        for var in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
            monkeypatch.delenv(var, raising=False)
            monkeypatch.delenv(var.upper(), raising=False)
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")
        backend = OpenAIBackend("http://judge.invalid:8000/v1", "judge-1")
        _run(backend, lambda b: b.check())
        assert _complete(backend).text == "[[A]]"
        assert [(c.path, c.proxied_to) for c in proxy.calls("")] == [
            ("/v1/models", "judge.invalid:8000"),
            ("/v1/chat/completions", "judge.invalid:8000"),
        ]
        monkeypatch.setenv("NO_PROXY", ".invalid")
        with pytest.raises(TransientError, match=r"no answer from http://judge\.invalid:8000/v1: cannot connect"):
            _complete(OpenAIBackend("http://judge.invalid:8000/v1", "judge-1"))
        assert len(proxy.calls("")) == 2  # straight to the (unresolvable) host, not through the proxy


# -- TLS -------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def self_signed(tmp_path_factory) -> tuple[Path, Path]:
    """(certificate, key) for 127.0.0.1, made by the openssl CLI."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a test certificate")
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def _tls_server(self_signed: tuple[Path, Path]) -> FaultServer:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*self_signed)
    return FaultServer(tls=ctx)


def test_an_untrusted_certificate_is_one_input_error(self_signed):
    with _tls_server(self_signed) as srv:
        assert srv.url.startswith("https://")
        backend = OpenAIBackend(srv.url, "judge-1")
        with pytest.raises(InputError, match=r"TLS certificate of https://127\.0\.0\.1:\d+/v1 rejected: .*self.signed"):
            _run(backend, lambda b: b.check())
        with pytest.raises(InputError, match="TLS certificate"):
            _complete(backend)
        assert srv.calls("") == []


def test_a_trusted_tls_endpoint_answers_a_whole_run(self_signed, tmp_path):
    """A real run over https (the worker trusts the test certificate through SSL_CERT_FILE)."""
    with _tls_server(self_signed) as srv:
        env = dict(os.environ, SSL_CERT_FILE=str(self_signed[0]))
        env["PYTHONPATH"] = os.pathsep.join([str(HERE.parent / "src"), env.get("PYTHONPATH", "")])
        cmd = [sys.executable, str(HERE / "_judge_worker.py"), srv.url, str(tmp_path / "c.sqlite"), "20", "4"]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stdout + out.stderr
        assert "ok=20 calls=20" in out.stdout and len(srv.calls()) == 20
