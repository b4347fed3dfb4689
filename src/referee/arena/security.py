"""Sessions, CSRF tokens and per-annotator rate limits.

A page session is an HttpOnly, SameSite=Strict cookie holding ``[role, subject, nonce]``
serialised and signed by :class:`itsdangerous.URLSafeTimedSerializer` (HMAC-SHA256 under
the database's secret, salt ``referee-arena-session``, issue time inside the signature), so
sessions survive a restart and need no table; one older than :data:`SESSION_DAYS` no longer
validates.  Every state-changing request made with a cookie must carry the session's CSRF
token in ``X-CSRF-Token``: the session's nonce signed by a second serialiser (salt
``referee-arena-csrf``, same maximum age), checked against the nonce of the cookie it came
with (the synchronizer-token pattern of the OWASP CSRF cheat sheet, keyed to the session).
Scripts that send ``Authorization: Bearer`` need none (browsers never attach that header on
their own).

Cookies signed by the hand-written HMAC scheme of earlier versions
(``role.subject.issued.nonce.sig``) do not validate: their holders are simply sent to the
login page and log in again.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadData, URLSafeTimedSerializer

COOKIE = "referee_session"
SESSION_DAYS = 30
MAX_AGE = SESSION_DAYS * 86400
ROLES = ("annotator", "admin")


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
        try:
            if now is None:
                return serializer.loads(value, max_age=self.max_age)
            # an explicit clock (tests): check the signature, then the age against ``now``
            data, issued = serializer.loads(value, return_timestamp=True)
            return data if now - issued.timestamp() <= self.max_age else None
        except (BadData, UnicodeError, ValueError):
            return None


class RateLimiter:
    """Token buckets per key: ``rate`` events per second sustained, bursts up to ``burst``."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        self.rate = rate
        self.burst = burst if burst is not None else max(5.0, 2 * rate)
        self.buckets: dict[object, tuple[float, float]] = {}

    def allow(self, key: object, now: float | None = None) -> float:
        """0 if allowed (and counted), else seconds until the next event would be allowed."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic() if now is None else now
        tokens, last = self.buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens < 1:
            self.buckets[key] = (tokens, now)
            return (1 - tokens) / self.rate
        self.buckets[key] = (tokens - 1, now)
        return 0.0
