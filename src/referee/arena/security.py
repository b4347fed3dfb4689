"""Sessions, CSRF tokens, login throttling, admin-token strength and per-annotator rate limits.

A page session is an HttpOnly, SameSite=Strict cookie holding ``[role, subject, nonce]``
serialised and signed by :class:`itsdangerous.URLSafeTimedSerializer` (HMAC-SHA256 under
the database's secret, salt ``referee-arena-session``, issue time inside the signature).  The
signature only says the server issued the cookie; the session is alive only while the database
holds its record (table ``sessions``, keyed by the SHA-256 of the nonce, :func:`session_key`),
so logging out, ``referee arena revoke`` and a new admin token end it at once (see
:mod:`referee.arena.deps`, which checks the record on every request).  A cookie older than the
session lifetime (``--session-hours``, default :data:`SESSION_HOURS`) or dated more than
:data:`SKEW` seconds in the future no longer validates.  Every state-changing request made
with a cookie must carry the session's CSRF token in ``X-CSRF-Token``: the session's nonce
signed by a second serialiser (salt ``referee-arena-csrf``, same maximum age), checked against
the nonce of the cookie it came with (the synchronizer-token pattern of the OWASP CSRF cheat
sheet, keyed to the session).  Scripts that send ``Authorization: Bearer`` need none
(browsers never attach that header on their own).

Failed logins are throttled by :class:`LoginThrottle` (token buckets per client address and
per token prefix, kept in this process's memory), and an admin token must pass
:func:`admin_token_problem` (length, distinct characters, no whitespace) wherever it is read.

Cookies signed by the hand-written HMAC scheme of earlier versions
(``role.subject.issued.nonce.sig``), and cookies issued before session records existed
(schema version 3), do not validate: their holders are simply sent to the login page and
log in again.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from itsdangerous import BadData, URLSafeTimedSerializer

from referee.errors import InputError

COOKIE = "referee_session"
SESSION_DAYS = 30
SESSION_HOURS = SESSION_DAYS * 24.0
MAX_AGE = SESSION_DAYS * 86400
SKEW = 60  # seconds a cookie's issue time may lie ahead of the clock (the server signs its own: none in practice)
ROLES = ("annotator", "admin")
#: What every admin token must have (:func:`admin_token_problem`).
MIN_TOKEN_LENGTH = 16
MIN_DISTINCT = 10
GENERATE_TOKEN = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'


def admin_token_problem(token: str) -> str | None:
    """Why ``token`` is too weak to be an admin token, or ``None``.

    It must have at least :data:`MIN_TOKEN_LENGTH` characters, :data:`MIN_DISTINCT` of them
    distinct, and no whitespace: ``aaaaaaaaaaaaaaaa`` or 16 spaces pass a length check alone.
    (A ``secrets.token_urlsafe(32)`` token, 43 characters of a 64-letter alphabet, has 256 bits.)
    """
    if len(token) < MIN_TOKEN_LENGTH:
        return f"it has {len(token)} characters, fewer than {MIN_TOKEN_LENGTH}"
    if any(c.isspace() for c in token):
        return "it contains whitespace"
    if len(set(token)) < MIN_DISTINCT:
        return f"it has {len(set(token))} distinct characters, fewer than {MIN_DISTINCT}"
    return None


def check_admin_token(token: str, where: str) -> None:
    """Refuse a weak admin token (read from ``where``, e.g. ``$REFEREE_ADMIN_TOKEN``), saying how to make one."""
    problem = admin_token_problem(token)
    if problem is not None:
        raise InputError(
            f"the admin token in {where} is too weak ({problem}): it needs at least {MIN_TOKEN_LENGTH} "
            f"characters, {MIN_DISTINCT} of them distinct, and no whitespace; generate one with {GENERATE_TOKEN}",
            field=where.lstrip("$"),
        )


def link_base(public_url: str | None, host: str, port: int) -> str | None:
    """Where login links point: ``public_url`` (checked: http(s), a host, no query or fragment), else
    ``http://host:port`` when ``host`` is one address, else ``None`` (relative links)."""
    if public_url is None:
        if host in ("0.0.0.0", "::", ""):
            return None
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    parts = urlsplit(public_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise InputError(
            f"`public_url` must be an http(s) address such as https://arena.example.org, not {public_url!r}",
            field="public_url",
        )
    return public_url.strip().rstrip("/")


def fingerprint(token: str) -> str:
    """SHA-256 of an admin token, recorded with each admin session: a new token ends them all."""
    return hashlib.sha256(b"referee-arena-admin\x00" + token.encode("utf-8", "surrogatepass")).hexdigest()


def session_key(nonce: str) -> str:
    """The id of a session's database record: SHA-256 of its nonce (the record alone forges no cookie)."""
    return hashlib.sha256(nonce.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Session:
    role: str  # "annotator" | "admin"
    subject: int  # annotator id (0 for admin)
    nonce: str


class Sessions:
    """Signs and reads the session cookies and CSRF tokens of one secret (``max_age`` seconds)."""

    def __init__(self, secret: bytes, max_age: int = MAX_AGE) -> None:
        signer = {"digest_method": hashlib.sha256}
        self.max_age = max_age
        self._cookies = URLSafeTimedSerializer(secret, salt="referee-arena-session", signer_kwargs=signer)
        self._csrf = URLSafeTimedSerializer(secret, salt="referee-arena-csrf", signer_kwargs=signer)

    def new(self, role: str, subject: int) -> tuple[Session, str]:
        """A fresh session and its cookie value."""
        s = Session(role, subject, secrets.token_urlsafe(12))
        return s, self._cookies.dumps([s.role, s.subject, s.nonce])

    def read(self, cookie: str | None, now: float | None = None) -> Session | None:
        """The session in a cookie value, or ``None`` if it is absent, forged, malformed or expired."""
        if not cookie:
            return None
        data = self._load(self._cookies, cookie, now)
        if not (isinstance(data, list) and len(data) == 3):
            return None
        role, subject, nonce = data
        if role not in ROLES or type(subject) is not int or not isinstance(nonce, str) or not nonce:
            return None
        return Session(role, subject, nonce)

    def csrf(self, session: Session) -> str:
        """The CSRF token for pages of ``session``."""
        return self._csrf.dumps(session.nonce)

    def check_csrf(self, session: Session, token: str | None, now: float | None = None) -> bool:
        """Whether ``token`` is a valid, unexpired CSRF token of ``session``."""
        nonce = self._load(self._csrf, token, now) if token else None
        return isinstance(nonce, str) and hmac.compare_digest(nonce.encode(), session.nonce.encode())

    def _load(self, serializer: URLSafeTimedSerializer, value: str, now: float | None) -> Any:
        """The payload of a signed ``value`` issued at most ``max_age`` seconds before ``now`` and
        at most :data:`SKEW` seconds after it; ``None`` otherwise (``now``: the clock, or a test's)."""
        try:
            data, issued = serializer.loads(value, return_timestamp=True)
        except (BadData, UnicodeError, ValueError, OverflowError, OSError):
            return None
        age = (time.time() if now is None else now) - issued.timestamp()
        return data if -SKEW <= age <= self.max_age else None


class RateLimiter:
    """Token buckets per key: ``rate`` events per second sustained, bursts up to ``burst``.

    At most ``max_keys`` buckets are kept: past that, the buckets that have filled up again
    (which behave exactly like absent ones) are dropped, then, if need be, the least recently
    used -- so keys an attacker makes up (token prefixes) cannot grow the memory without bound.
    """

    def __init__(self, rate: float, burst: float | None = None, max_keys: int = 100_000) -> None:
        self.rate = rate
        self.burst = burst if burst is not None else max(5.0, 2 * rate)
        self.max_keys = max_keys
        self.buckets: dict[object, tuple[float, float]] = {}

    def _tokens(self, key: object, now: float) -> float:
        tokens, last = self.buckets.get(key, (self.burst, now))
        return min(self.burst, tokens + (now - last) * self.rate)

    def wait(self, key: object, now: float | None = None) -> float:
        """Seconds until ``key`` may have its next event (0: now), without counting one."""
        if self.rate <= 0:
            return 0.0
        tokens = self._tokens(key, time.monotonic() if now is None else now)
        return 0.0 if tokens >= 1 else (1 - tokens) / self.rate

    def allow(self, key: object, now: float | None = None) -> float:
        """0 if allowed (and counted), else seconds until the next event would be allowed."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic() if now is None else now
        tokens = self._tokens(key, now)
        if tokens < 1:
            self._put(key, tokens, now)
            return (1 - tokens) / self.rate
        self._put(key, tokens - 1, now)
        return 0.0

    def _put(self, key: object, tokens: float, now: float) -> None:
        self.buckets.pop(key, None)  # re-inserted last: the dict's order is least recently used first
        self.buckets[key] = (tokens, now)
        if len(self.buckets) > self.max_keys:
            full = [k for k, (t, last) in self.buckets.items() if t + (now - last) * self.rate >= self.burst]
            for k in full:
                del self.buckets[k]
            for k in list(itertools.islice(self.buckets, max(0, len(self.buckets) - self.max_keys))):
                del self.buckets[k]


class LoginThrottle:
    """Failed logins per client address and per token prefix (token buckets, this process only).

    A failure costs one token of the client address's bucket (:data:`ADDRESS_BURST`, refilled
    at :data:`ADDRESS_RATE` per second) and of the bucket of the token's first
    :data:`PREFIX_CHARS` characters (:data:`PREFIX_BURST`, :data:`PREFIX_RATE`); successes
    cost nothing.  While either bucket is empty, every attempt from that address or with that
    prefix -- a right token included, so that the answer never tells which guess was right --
    is refused with the seconds to wait (a 429 with ``Retry-After``).  At these rates one
    address tries some 1,000 tokens a day instead of ~880 a second; the prefix buckets limit
    guesses at one token spread over many addresses.  The counts live in this process's
    memory: a restart forgets them, and several server processes count separately.
    """

    ADDRESS_BURST, ADDRESS_RATE = 30.0, 1 / 60
    PREFIX_CHARS, PREFIX_BURST, PREFIX_RATE = 12, 10.0, 1 / 120

    def __init__(self) -> None:
        self.by_address = RateLimiter(self.ADDRESS_RATE, self.ADDRESS_BURST)
        self.by_prefix = RateLimiter(self.PREFIX_RATE, self.PREFIX_BURST)

    def _prefix(self, token: str) -> str:
        return token[: self.PREFIX_CHARS]

    def wait(self, address: str, token: str, now: float | None = None) -> float:
        """Seconds before a login from ``address`` with ``token`` may be tried (0: now)."""
        return max(self.by_address.wait(address, now), self.by_prefix.wait(self._prefix(token), now))

    def failed(self, address: str, token: str, now: float | None = None) -> None:
        """Count a failed login."""
        self.by_address.allow(address, now)
        self.by_prefix.allow(self._prefix(token), now)


@dataclass
class Guard:
    """Who may get in: the session signer, the login throttle, the admin token and the login links' base.

    ``admin_token`` is kept only when it passes :func:`admin_token_problem` (``admin_problem``
    says why not): a weak token configured by any route around :func:`referee.arena.serve`
    leaves the admin disabled rather than guessable.  ``public_url`` is the address login links
    are built on (``--public-url``); ``None`` makes them relative.
    """

    sessions: Sessions
    admin_token: str | None
    admin_problem: str | None
    admin_key: str | None
    session_seconds: int
    public_url: str | None
    throttle: LoginThrottle

    @classmethod
    def build(cls, secret: bytes, admin_token: str | None, *, session_hours: float = SESSION_HOURS,
              public_url: str | None = None) -> Guard:
        problem = admin_token_problem(admin_token) if admin_token else None
        token = admin_token if admin_token and problem is None else None
        seconds = max(1, round(session_hours * 3600))
        return cls(Sessions(secret, seconds), token, problem, fingerprint(token) if token else None, seconds,
                   public_url.rstrip("/") if public_url else None, LoginThrottle())

    def is_admin_token(self, token: str) -> bool:
        return self.admin_token is not None and hmac.compare_digest(
            token.encode("utf-8", "surrogatepass"), self.admin_token.encode("utf-8", "surrogatepass")
        )

    def link(self, token: str) -> str:
        """The login link of an invite token."""
        return f"{self.public_url or ''}/login?token={token}"
