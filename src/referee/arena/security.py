"""Sessions, CSRF tokens and per-annotator rate limits.

A page session is an HttpOnly, SameSite=Strict cookie holding ``role.subject.issued.nonce``
signed with HMAC-SHA256 under the database's secret (so sessions survive a restart and
need no table).  Every state-changing request made with a cookie must carry the session's
CSRF token, ``HMAC(secret, "csrf:" + nonce)``, in ``X-CSRF-Token``; scripts that send
``Authorization: Bearer`` need none (browsers never attach that header on their own).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

COOKIE = "referee_session"
SESSION_DAYS = 30


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _sign(secret: bytes, payload: str) -> str:
    return _b64(hmac.new(secret, payload.encode("utf-8"), hashlib.sha256).digest())


@dataclass(frozen=True)
class Session:
    role: str  # "annotator" | "admin"
    subject: int  # annotator id (0 for admin)
    nonce: str

    def csrf(self, secret: bytes) -> str:
        return _sign(secret, "csrf:" + self.nonce)


def new_session(secret: bytes, role: str, subject: int) -> tuple[Session, str]:
    """A fresh session and its cookie value."""
    s = Session(role, subject, secrets.token_urlsafe(12))
    payload = f"{role}.{subject}.{int(time.time())}.{s.nonce}"
    return s, payload + "." + _sign(secret, payload)


def read_session(secret: bytes, cookie: str | None) -> Session | None:
    """The session in a cookie value, or ``None`` if it is absent, forged or expired."""
    if not cookie or cookie.count(".") != 4:
        return None
    payload, _, sig = cookie.rpartition(".")
    if not hmac.compare_digest(sig, _sign(secret, payload)):
        return None
    role, subject, issued, nonce = payload.split(".")
    try:
        if time.time() - int(issued) > SESSION_DAYS * 86400:
            return None
        return Session(role, int(subject), nonce)
    except ValueError:
        return None


def check_csrf(secret: bytes, session: Session, token: str | None) -> bool:
    return bool(token) and hmac.compare_digest(token or "", session.csrf(secret))


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
