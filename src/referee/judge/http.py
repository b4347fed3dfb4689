"""An OpenAI-compatible chat endpoint as a judge :class:`Backend` (OpenAI, vLLM, Ollama, llama.cpp, ...).

Three transports speak the same wire format (``transport=``):

* ``"wire"``: a minimal keep-alive HTTP/1.1 client on asyncio protocols, for plain ``http://``
  endpoints reached without a proxy (local servers) -- the only one that reaches 1,000+ calls/s at
  concurrency 64 on two cores (httpx's connection pool scales quadratically with connections);
* ``"httpx"``: ``httpx.AsyncClient`` (TLS, proxies from the environment, HTTP redirects);
* ``"sdk"``: the ``openai`` SDK's ``AsyncOpenAI`` (``max_retries=0``: the engine retries).
  ``import openai`` alone takes ~0.9 s (httpx ~0.1 s), so each is imported only when used.

``"auto"`` (default) picks ``wire`` for plain-HTTP without a proxy, else ``httpx``.  All map
failures alike: 408/409/429/5xx, timeouts, connection errors and 200 bodies that are not a chat
completion (truncated JSON, HTML, ...) raise :class:`TransientError` (with ``Retry-After``);
401/403, 404 and other 4xx raise :class:`InputError` naming the URL and model.  ``check()`` lists
``/models`` before any completion is paid for.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import time
from typing import Any
from urllib.parse import urlsplit

from referee.errors import InputError
from referee.judge.types import ChatRequest, ChatResult, TransientError

_RAW_KEEP = 500  # characters of a bad body kept in the error message
TRANSPORTS = ("auto", "wire", "httpx", "sdk")


# -- response helpers ------------------------------------------------------------------------------
def _retry_after(headers: Any) -> float | None:
    """Seconds from ``retry-after-ms`` / ``Retry-After`` (seconds or an HTTP date); None if absent."""
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        with contextlib.suppress(ValueError):
            return max(0.0, float(ms) / 1000)
    ra = headers.get("retry-after")
    if not ra:
        return None
    try:
        return max(0.0, float(ra))
    except ValueError:
        import email.utils

        try:
            when = email.utils.parsedate_to_datetime(ra)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - time.time())


def _excerpt(text: str | bytes | None) -> str:
    if isinstance(text, bytes | bytearray):
        text = bytes(text).decode("utf-8", "replace")
    text = text or ""
    return text if len(text) <= _RAW_KEEP else text[:_RAW_KEEP] + f"... ({len(text)} chars)"


def _error_detail(raw: bytes | str | None) -> str:
    """The ``error.message`` of an OpenAI-style error body, else an excerpt of the body."""
    try:
        data = json.loads(raw or b"")
        err = data.get("error", data) if isinstance(data, dict) else data
        msg = err.get("message") if isinstance(err, dict) else err
        if isinstance(msg, str) and msg:
            return _excerpt(msg)
    except (ValueError, AttributeError):
        pass
    return _excerpt(raw)


def _model_ids(raw: bytes) -> list[str] | None:
    try:
        return [str(m["id"]) for m in json.loads(raw)["data"]]
    except (ValueError, KeyError, TypeError):
        return None


def parse_completion(raw: bytes | str) -> ChatResult:
    """A chat-completion body -> :class:`ChatResult`; TransientError (with the raw text) if it is not one."""
    try:
        data = json.loads(raw)
    except ValueError:
        raise TransientError(f"response is not JSON: {_excerpt(raw)}") from None
    try:
        choice = data["choices"][0]
        message = choice["message"]
        text = message.get("content")
        if text is None:
            text = message.get("reasoning_content") or ""
        if not isinstance(text, str):
            raise TypeError(text)
        logprobs = None
        lp = choice.get("logprobs")
        if lp and lp.get("content") is not None:
            logprobs = [
                (
                    str(t["token"]),
                    float(t["logprob"]),
                    [(str(a["token"]), float(a["logprob"])) for a in (t.get("top_logprobs") or [])],
                )
                for t in lp["content"]
            ]
        usage = data.get("usage") or {}
        return ChatResult(
            text=text,
            logprobs=logprobs,
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            finish_reason=choice.get("finish_reason"),
        )
    except (KeyError, IndexError, TypeError, ValueError, AttributeError):
        raise TransientError(f"response is not a chat completion: {_excerpt(raw)}") from None


# -- the "wire" transport: keep-alive HTTP/1.1 on asyncio protocols ----------------------------------
class _Conn(asyncio.Protocol):
    """One keep-alive connection, one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.waiter: asyncio.Future[tuple[int, dict[str, str], bytes]] | None = None
        self.head: tuple[int, dict[str, str]] | None = None
        self.length = -1  # -1: chunked, -2: until close
        self.keep = True
        self.closed = False
        self.got_bytes = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        w = self.waiter
        if w is not None and not w.done():
            if self.head is not None and self.length == -2:
                w.set_result((*self.head, bytes(self.buf)))
            else:
                w.set_exception(ConnectionError(f"connection closed by the server ({exc or 'EOF'})"))

    def data_received(self, data: bytes) -> None:
        if self.waiter is None or self.waiter.done():
            self.close()  # nothing asked: a broken server
            return
        self.got_bytes = True
        self.buf += data
        try:
            self._parse()
        except (ValueError, IndexError) as e:
            self.waiter.set_exception(ConnectionError(f"malformed HTTP response: {e}"))
            self.close()

    def _parse(self) -> None:
        while self.head is None:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            lines = bytes(self.buf[:end]).decode("latin-1").split("\r\n")
            del self.buf[: end + 4]
            status = int(lines[0].split(" ", 2)[1])
            if 100 <= status < 200:
                continue  # 100 Continue and friends
            headers: dict[str, str] = {}
            for line in lines[1:]:
                k, _, v = line.partition(":")
                headers[k.strip().lower()] = v.strip()
            self.head = (status, headers)
            self.keep = headers.get("connection", "").lower() != "close"
            if status in (204, 304):
                self.length = 0
            elif "chunked" in headers.get("transfer-encoding", "").lower():
                self.length = -1
            elif "content-length" in headers:
                self.length = int(headers["content-length"])
            else:
                self.length, self.keep = -2, False
        body = self._body()
        if body is not None and self.waiter is not None:
            self.waiter.set_result((*self.head, body))
            if not self.keep:
                self.close()

    def _body(self) -> bytes | None:
        if self.length >= 0:
            return bytes(self.buf[: self.length]) if len(self.buf) >= self.length else None
        if self.length == -2:
            return None
        out, pos, buf = bytearray(), 0, self.buf  # chunked: parse from the start each time (bodies are small)
        while True:
            eol = buf.find(b"\r\n", pos)
            if eol < 0:
                return None
            size = int(bytes(buf[pos:eol]).split(b";", 1)[0], 16)
            pos = eol + 2
            if size == 0:
                if buf[pos : pos + 2] == b"\r\n" or buf.find(b"\r\n\r\n", pos - 2) >= 0:
                    return bytes(out)
                return None
            if len(buf) < pos + size + 2:
                return None
            out += buf[pos : pos + size]
            pos += size + 2

    def send(self, data: bytes) -> asyncio.Future[tuple[int, dict[str, str], bytes]]:
        assert self.transport is not None
        self.buf.clear()
        self.head, self.length, self.keep, self.got_bytes = None, -1, True, False
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return self.waiter

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class _WirePool:
    """Keep-alive connections to one ``http://host:port`` (at most ``size`` at a time)."""

    def __init__(self, host: str, port: int, size: int) -> None:
        self.host, self.port = host, port
        self.idle: list[_Conn] = []
        self.sem = asyncio.Semaphore(size)

    async def request(self, head: bytes, body: bytes) -> tuple[int, dict[str, str], bytes]:
        async with self.sem:
            for _ in range(2):
                conn, reused = None, False
                while self.idle and conn is None:
                    c = self.idle.pop()
                    if not c.closed and c.transport is not None and not c.transport.is_closing():
                        conn, reused = c, True
                if conn is None:
                    _, conn = await asyncio.get_running_loop().create_connection(_Conn, self.host, self.port)
                try:
                    result = await conn.send(head + body)
                except ConnectionError:
                    conn.close()
                    if reused and not conn.got_bytes:
                        continue  # a keep-alive connection the server had dropped: once more, fresh
                    raise
                except BaseException:  # timeout / cancellation mid-response: the connection is unusable
                    conn.close()
                    raise
                if conn.keep and not conn.closed:
                    self.idle.append(conn)
                return result
            raise ConnectionError("connection closed by the server")

    def close(self) -> None:
        for c in self.idle:
            c.close()
        self.idle.clear()


def _proxied(url: str) -> bool:
    """Whether the environment routes ``url`` through a proxy (then httpx, which honours it, is used)."""
    host = urlsplit(url).hostname or ""
    if host in ("127.0.0.1", "localhost", "::1"):
        return False
    env = {k.lower(): v for k, v in os.environ.items() if k.lower().endswith("_proxy")}
    if not (env.get("http_proxy") or env.get("all_proxy")):
        return False
    no = [h.strip().lstrip(".") for h in env.get("no_proxy", "").split(",") if h.strip()]
    return not any(h == "*" or host == h or host.endswith("." + h) for h in no)


# -- the backend -----------------------------------------------------------------------------------
class OpenAIBackend:
    """A judge behind an OpenAI-compatible ``base_url`` (``.../v1``) serving ``model``."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout: float = 60.0,
        extra_body: dict[str, Any] | None = None,
        *,
        key_env: str | None = None,
        max_connections: int = 256,
        transport: str = "auto",
    ) -> None:
        if transport not in TRANSPORTS:
            raise ValueError(f"transport must be one of {TRANSPORTS}, got {transport!r}")
        self.base_url = base_url.rstrip("/")
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InputError(f"judge URL must be http(s)://host[:port]/path, got {base_url!r}")
        self.model = model
        self.api_key = api_key
        self.timeout = timeout
        self.extra_body = dict(extra_body or {})
        self.key_env = key_env
        self.max_connections = max_connections
        if transport == "auto":
            transport = "wire" if parts.scheme == "http" and not _proxied(self.base_url) else "httpx"
        elif transport == "wire" and parts.scheme != "http":
            raise ValueError("the 'wire' transport speaks plain http:// only")
        self.transport = transport
        self.identity = f"{self.base_url}|{model}"
        if self.extra_body:
            blob = json.dumps(self.extra_body, sort_keys=True, default=str).encode()
            self.identity += "|" + hashlib.sha256(blob).hexdigest()[:16]
        self._host = parts.hostname
        self._port = parts.port or 80
        self._netloc = parts.netloc.rsplit("@", 1)[-1]  # the Host header ([::1]:8000 stays bracketed)
        self._path = parts.path.rstrip("/")
        self._clients: dict[str, tuple[asyncio.AbstractEventLoop, Any]] = {}  # connections belong to one loop

    # -- clients (one per event loop) ------------------------------------------------------------
    def _client(self, kind: str) -> Any:
        loop = asyncio.get_running_loop()
        held = self._clients.get(kind)
        if held is not None and held[0] is loop:
            return held[1]
        if kind == "wire":
            self._clients[kind] = (loop, _WirePool(self._host, self._port, self.max_connections))
            return self._clients[kind][1]
        import httpx

        limits = httpx.Limits(max_connections=self.max_connections, max_keepalive_connections=self.max_connections)
        client: Any
        if kind == "httpx":
            client = httpx.AsyncClient(
                base_url=self.base_url + "/",
                headers={"Authorization": f"Bearer {self.api_key or 'not-needed'}", "Accept": "application/json"},
                timeout=httpx.Timeout(self.timeout),
                limits=limits,
            )
        else:
            import openai  # ~0.9 s to import: only when the SDK is used

            client = openai.AsyncOpenAI(
                base_url=self.base_url,
                api_key=self.api_key or "not-needed",
                max_retries=0,
                timeout=self.timeout,
                http_client=httpx.AsyncClient(timeout=httpx.Timeout(self.timeout), limits=limits),
            )
        self._clients[kind] = (loop, client)
        return client

    async def aclose(self) -> None:
        """Close the connections opened in the running loop (the engine's ``run_sync`` does this)."""
        loop = asyncio.get_running_loop()
        held, self._clients = list(self._clients.values()), {}
        for owner, client in held:
            if owner is not loop:
                continue
            with contextlib.suppress(Exception):
                if isinstance(client, _WirePool):
                    client.close()
                elif hasattr(client, "aclose"):  # httpx.AsyncClient
                    await client.aclose()
                else:  # openai.AsyncOpenAI
                    await client.close()

    async def _wire(self, method: str, path: str, body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
        head = (
            f"{method} {self._path}/{path} HTTP/1.1\r\nHost: {self._netloc}\r\n"
            f"Authorization: Bearer {self.api_key or 'not-needed'}\r\nAccept: application/json\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nUser-Agent: referee\r\n\r\n"
        ).encode("latin-1")
        async with asyncio.timeout(self.timeout):
            return await self._client("wire").request(head, body)

    async def _httpx(self, method: str, path: str, body: bytes = b"") -> tuple[int, Any, bytes]:
        """One request through httpx; its timeouts -> TimeoutError, transport errors -> ConnectionError."""
        import httpx

        try:
            resp = await self._client("httpx").request(
                method, path, content=body or None, headers={"Content-Type": "application/json"} if body else None
            )
        except httpx.TimeoutException as e:
            raise TimeoutError(str(e)) from e
        except httpx.TransportError as e:
            raise ConnectionError(f"{type(e).__name__}: {e}") from e
        return resp.status_code, resp.headers, resp.content

    # -- messages --------------------------------------------------------------------------------
    def _where(self) -> str:
        return f"model {self.model!r} at {self.base_url}"

    def _key_rejected(self, status: int, detail: str) -> InputError:
        env = f" (env var {self.key_env})" if self.key_env else ""
        if status == 403:
            return InputError(f"judge key{env} may not use {self._where()} (403: {detail})")
        return InputError(f"judge key rejected{env} by {self.base_url} ({status}: {detail})")

    def _status_error(self, status: int, raw: bytes | str | None, headers: Any) -> Exception:
        detail = _error_detail(raw)
        if status in (408, 409, 429) or status >= 500:
            return TransientError(f"HTTP {status} from {self.base_url}: {detail}", _retry_after(headers))
        if status in (401, 403):
            return self._key_rejected(status, detail)
        if status == 404:
            return InputError(f"{self._where()}: not found (404: {detail}); check the judge URL and model name")
        return InputError(f"{self._where()} rejected the request ({status}: {detail})")

    def _payload(self, request: ChatRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": request.as_messages(),
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
        }
        if request.logprobs:
            body["logprobs"] = True
            if request.top_logprobs:
                body["top_logprobs"] = request.top_logprobs
        if request.seed is not None:
            body["seed"] = request.seed
        if request.stop:
            body["stop"] = list(request.stop)
        return body

    # -- calls -----------------------------------------------------------------------------------
    async def complete(self, request: ChatRequest) -> ChatResult:
        """One chat completion; TransientError for retryable failures, InputError for bad configuration."""
        if self.transport == "sdk":
            return await self._complete_sdk(request)
        body = self._payload(request)
        body.update(self.extra_body)
        data = json.dumps(body).encode()  # ASCII escapes: safe for lone surrogates
        try:
            if self.transport == "wire":
                status, headers, raw = await self._wire("POST", "chat/completions", data)
            else:
                status, headers, raw = await self._httpx("POST", "chat/completions", data)
        except TimeoutError as e:
            raise TransientError(f"timeout after {self.timeout:g}s from {self.base_url}") from e
        except OSError as e:
            raise TransientError(f"connection error to {self.base_url}: {type(e).__name__}: {e}") from e
        if status != 200:
            raise self._status_error(status, raw, headers)
        return parse_completion(raw)

    async def _complete_sdk(self, request: ChatRequest) -> ChatResult:
        import openai

        body = self._payload(request)
        kwargs = {k: v for k, v in body.items() if k not in ("model", "messages")}
        try:
            resp = await self._client("sdk").chat.completions.with_raw_response.create(
                model=self.model, messages=body["messages"], extra_body=self.extra_body or None, **kwargs
            )
            raw = resp.content  # parsed here, not by the SDK, so that a bad body keeps its text
        except openai.APITimeoutError as e:
            raise TransientError(f"timeout after {self.timeout:g}s from {self.base_url}") from e
        except openai.APIConnectionError as e:
            raise TransientError(f"connection error to {self.base_url}: {e}") from e
        except openai.APIStatusError as e:
            raise self._status_error(e.status_code, e.response.content, e.response.headers) from e
        return parse_completion(raw)

    async def check(self) -> None:
        """Fail fast (InputError) on an unreachable URL, a rejected key or a model the server does not list."""
        status, raw = await self._get_models()
        if status in (401, 403):
            raise self._key_rejected(status, _error_detail(raw))
        if status >= 500:
            raise InputError(f"judge at {self.base_url} is failing (HTTP {status}: {_error_detail(raw)})")
        models = _model_ids(raw) if status == 200 else None
        if models and self.model not in models:
            shown = ", ".join(sorted(models)[:20]) + (" ..." if len(models) > 20 else "")
            raise InputError(f"model {self.model!r} not served at {self.base_url}; available: {shown}")
        # 404 or an unlisted format: a server without /models; the first call reports real problems

    async def _get_models(self) -> tuple[int, bytes]:
        unreachable = f"cannot reach judge at {self.base_url}"
        if self.transport == "sdk":
            import openai

            try:
                resp = await self._client("sdk").models.with_raw_response.list()
                return resp.status_code, resp.content
            except openai.APIConnectionError as e:
                raise InputError(f"{unreachable} ({e.__cause__ or e})") from None
            except openai.APIStatusError as e:
                return e.status_code, e.response.content
        try:
            if self.transport == "wire":
                status, _, raw = await self._wire("GET", "models")
                return status, raw
            status, _, raw = await self._httpx("GET", "models")
            return status, raw
        except TimeoutError:
            raise InputError(f"{unreachable} (no answer within {self.timeout:g}s)") from None
        except OSError as e:
            raise InputError(f"{unreachable} ({type(e).__name__}: {e})") from None
