"""An OpenAI-compatible chat endpoint as a judge :class:`Backend` (OpenAI, vLLM, Ollama, llama.cpp, ...).

Transports (``transport=``):

* ``"aiohttp"`` (also what ``"auto"``, the default, picks): an ``aiohttp.ClientSession`` per event
  loop for ``http://`` and ``https://`` alike, with a keep-alive pool of ``max_connections``
  connections (size it to the engine's concurrency), proxies from the environment
  (``HTTP(S)_PROXY`` / ``NO_PROXY``) and a cap of ``max_response_bytes`` (16 MiB) per response body;
* ``"sdk"``: the ``openai`` SDK's ``AsyncOpenAI`` (``max_retries=0``: the engine retries), for
  cross-checking against the reference client; needs the optional ``openai`` extra
  (``pip install 'referee[openai]'``) and is imported only when chosen (~0.9 s).

Failures map alike whatever the transport: 408/409/429/5xx, timeouts, refused or dropped
connections, malformed HTTP and 200 bodies that are not a chat completion (truncated JSON, HTML,
...) raise :class:`TransientError` (with ``Retry-After``); 401/403, 404, other 4xx, a rejected TLS
certificate and a response over the size cap raise :class:`InputError` naming the URL (and model).
``check()`` lists ``/models`` before any completion is paid for.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from referee.errors import InputError
from referee.judging.types import ChatRequest, ChatResult, TransientError

if TYPE_CHECKING:
    import aiohttp
    from yarl import URL

_RAW_KEEP = 500  # characters of a bad body kept in the error message
TRANSPORTS = ("auto", "aiohttp", "sdk")
#: the default cap on one response body (a chat completion is kilobytes; logprobs, a few hundred)
MAX_RESPONSE_BYTES = 16 * 2**20


# -- response helpers ------------------------------------------------------------------------------
def _retry_after(headers: Mapping[str, str] | None) -> float | None:
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
    """``text`` (bytes decoded leniently) cut to its first ``_RAW_KEEP`` characters."""
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
    """The ids of a ``/models`` listing; None if the body is not one."""
    try:
        return [str(m["id"]) for m in json.loads(raw)["data"]]
    except (ValueError, KeyError, TypeError):
        return None


def _mib(n: int) -> str:
    return f"{n / 2**20:g} MiB"


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


def _env_proxy(url: str) -> str | None:
    """The proxy the environment routes ``url`` through (``HTTP(S)_PROXY``/``ALL_PROXY`` less ``NO_PROXY``).

    None for a direct connection; loopback hosts are always reached directly.
    """
    import urllib.request

    parts = urlsplit(url)
    host = parts.hostname or ""
    if host in ("127.0.0.1", "localhost", "::1") or urllib.request.proxy_bypass(host):
        return None
    proxies = urllib.request.getproxies()
    return proxies.get(parts.scheme) or proxies.get("all")


class _Unreachable(Exception):
    """No HTTP response came back (timeout, refused, dropped, malformed); the message says why, without the URL."""


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
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        if transport not in TRANSPORTS:
            raise ValueError(f"transport must be one of {TRANSPORTS}, got {transport!r}")
        if max_connections < 1 or max_response_bytes < 1:
            raise ValueError("max_connections and max_response_bytes must be positive")
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
        self.max_response_bytes = max_response_bytes
        self.transport = "aiohttp" if transport == "auto" else transport
        self.identity = f"{self.base_url}|{model}"
        if self.extra_body:
            blob = json.dumps(self.extra_body, sort_keys=True, default=str).encode()
            self.identity += "|" + hashlib.sha256(blob).hexdigest()[:16]
        self._clients: dict[str, tuple[asyncio.AbstractEventLoop, Any]] = {}  # connections belong to one loop
        self._urls: dict[str, URL] = {}  # the parsed request URLs, set with the session
        self._proxy: URL | None = None
        self._proxy_auth: aiohttp.BasicAuth | None = None

    # -- clients (one per event loop) ------------------------------------------------------------
    def _client(self, kind: str) -> Any:
        loop = asyncio.get_running_loop()
        held = self._clients.get(kind)
        if held is not None and held[0] is loop:
            return held[1]
        client = self._new_session() if kind == "aiohttp" else self._new_sdk()
        self._clients[kind] = (loop, client)
        return client

    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.api_key or 'not-needed'}",
            "Accept": "application/json",
            "Content-Type": "application/json",
            "User-Agent": "referee",
        }

    def _new_session(self) -> aiohttp.ClientSession:
        import aiohttp
        from yarl import URL

        # the proxy is resolved once here, not per request: aiohttp's trust_env looks up the environment
        # and ~/.netrc in a worker thread for every request, which halved the call rate at 64 in flight
        proxy = _env_proxy(self.base_url)
        self._proxy, self._proxy_auth = None, None
        if proxy:
            parsed = URL(proxy)
            self._proxy = parsed.with_user(None)
            if parsed.user:
                self._proxy_auth = aiohttp.BasicAuth(parsed.user, parsed.password or "")
        self._urls = {p: URL(f"{self.base_url}/{p}") for p in ("chat/completions", "models")}
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self.max_connections, limit_per_host=0),
            headers=self._headers(),
            timeout=aiohttp.ClientTimeout(total=self.timeout),
            cookie_jar=aiohttp.DummyCookieJar(),  # an API needs no cookies
        )

    def _new_sdk(self) -> Any:
        try:
            import httpx
            import openai  # ~0.9 s to import: only when the SDK is used
        except ImportError:
            raise InputError(
                "transport 'sdk' needs the openai package: pip install 'referee[openai]'", field="transport"
            ) from None
        limits = httpx.Limits(max_connections=self.max_connections, max_keepalive_connections=self.max_connections)
        return openai.AsyncOpenAI(
            base_url=self.base_url,
            api_key=self.api_key or "not-needed",
            max_retries=0,
            timeout=self.timeout,
            # the SDK's annotations name its vendored httpx2 client; it takes an httpx.AsyncClient at run time
            http_client=httpx.AsyncClient(timeout=httpx.Timeout(self.timeout), limits=limits),  # type: ignore[arg-type]
        )

    async def aclose(self) -> None:
        """Close the connections opened in the running loop (the engine's ``run_sync`` does this)."""
        loop = asyncio.get_running_loop()
        held, self._clients = list(self._clients.values()), {}
        for owner, client in held:
            if owner is not loop:
                continue
            with contextlib.suppress(Exception):
                await client.close()  # aiohttp.ClientSession and openai.AsyncOpenAI alike

    # -- the one request path ----------------------------------------------------------------------
    async def _request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, Mapping[str, str], bytes]:
        """(status, headers, body) of one request; :class:`_Unreachable` if no HTTP response came back.

        The body is read up to ``max_response_bytes`` (decompressed); a larger one is an
        :class:`InputError` (a retry would pay for the same answer again).
        """
        import aiohttp

        session = self._client("aiohttp")
        url = self._urls[path]
        try:
            async with session.request(method, url, data=body, proxy=self._proxy, proxy_auth=self._proxy_auth) as resp:
                limit = self.max_response_bytes
                if (resp.content_length or 0) > limit and "content-encoding" not in resp.headers:
                    raise self._too_large(f"{resp.content_length:,} bytes announced")
                buf = bytearray()
                while chunk := await resp.content.readany():
                    buf += chunk
                    if len(buf) > limit:
                        raise self._too_large(f"{len(buf):,} bytes read so far")
                return resp.status, resp.headers, bytes(buf)
        except TimeoutError:
            raise _Unreachable(f"timeout after {self.timeout:g}s") from None
        except aiohttp.ClientConnectorCertificateError as e:
            raise InputError(f"TLS certificate of {self.base_url} rejected: {e.certificate_error}") from None
        except aiohttp.ClientConnectorError as e:  # refused, unknown host, TLS handshake, ...
            raise _Unreachable(f"cannot connect: {e.os_error}") from None
        except aiohttp.ClientResponseError as e:  # never raised for a status (no raise_for_status): bad HTTP
            raise _Unreachable(f"malformed HTTP response: {e.message}") from None
        except (aiohttp.ClientError, OSError) as e:  # dropped connection, truncated body, ...
            raise _Unreachable(f"connection error: {type(e).__name__}: {e}") from None

    def _too_large(self, what: str) -> InputError:
        return InputError(
            f"response from {self.base_url} is larger than the {_mib(self.max_response_bytes)} limit ({what}); "
            "lower max_tokens or raise max_response_bytes",
            field="max_response_bytes",
        )

    # -- messages --------------------------------------------------------------------------------
    def _where(self) -> str:
        return f"model {self.model!r} at {self.base_url}"

    def _key_rejected(self, status: int, detail: str) -> InputError:
        env = f" (env var {self.key_env})" if self.key_env else ""
        if status == 403:
            return InputError(f"judge key{env} may not use {self._where()} (403: {detail})")
        return InputError(f"judge key rejected{env} by {self.base_url} ({status}: {detail})")

    def _status_error(self, status: int, raw: bytes | str | None, headers: Mapping[str, str] | None) -> Exception:
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
            status, headers, raw = await self._request("POST", "chat/completions", data)
        except _Unreachable as e:
            raise TransientError(f"no answer from {self.base_url}: {e}") from None
        if status != 200:
            raise self._status_error(status, raw, headers)
        return parse_completion(raw)

    async def _complete_sdk(self, request: ChatRequest) -> ChatResult:
        client = self._client("sdk")
        import openai

        body = self._payload(request)
        kwargs = {k: v for k, v in body.items() if k not in ("model", "messages")}
        try:
            resp = await client.chat.completions.with_raw_response.create(
                model=self.model, messages=body["messages"], extra_body=self.extra_body or None, **kwargs
            )
            raw = resp.content  # parsed here, not by the SDK, so that a bad body keeps its text
        except openai.APITimeoutError:
            raise TransientError(f"no answer from {self.base_url}: timeout after {self.timeout:g}s") from None
        except openai.APIConnectionError as e:
            raise TransientError(f"no answer from {self.base_url}: connection error: {e.__cause__ or e}") from None
        except openai.APIStatusError as e:
            raise self._status_error(e.status_code, e.response.content, e.response.headers) from None
        if len(raw) > self.max_response_bytes:
            raise self._too_large(f"{len(raw):,} bytes")
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
            client = self._client("sdk")
            import openai

            try:
                resp = await client.models.with_raw_response.list()
                return resp.status_code, resp.content
            except openai.APIConnectionError as e:
                raise InputError(f"{unreachable} ({e.__cause__ or e})") from None
            except openai.APIStatusError as e:
                return e.status_code, e.response.content
        try:
            status, _, raw = await self._request("GET", "models")
        except _Unreachable as e:
            raise InputError(f"{unreachable} ({e})") from None
        return status, raw
