"""The JSON bodies the arena's API takes, as Pydantic models.

Every model is strict (a JSON string for a string, ``true``/``false`` for a boolean, no
coercion) and forbids unknown fields, so a typo such as ``"winer"`` is a 422 naming it
rather than a silently ignored key.  Strings are bounded, must not be blank, and must not
hold NUL characters or unpaired UTF-16 surrogates (``"\\ud800"`` is valid JSON but can be
stored by neither SQLite nor PostgreSQL).  Endpoints read their body with
:func:`referee.arena.http.read_json`, whose 422 names the field (:func:`~referee.arena.http.describe`).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

#: The four verdicts of a vote: :data:`referee.schema.WINNERS`, spelled out for the type checker and
#: the OpenAPI schema (tests/test_arena_store.py checks that the two agree).
Winner = Literal["model_a", "model_b", "tie", "tie (bothbad)"]

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
#: Alphabet of :func:`secrets.token_urlsafe`, which makes every battle id.
BATTLE_ID = r"^[A-Za-z0-9_-]+$"


def _storable(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    if _UNSTORABLE.search(value):
        raise ValueError("must not contain NUL characters or unpaired surrogates")
    return value


Token = Annotated[str, Field(min_length=1, max_length=400), AfterValidator(_storable)]
Name = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_storable)]
ModelName = Annotated[str, Field(min_length=1, max_length=400), AfterValidator(_storable)]
BattleId = Annotated[str, Field(min_length=1, max_length=64, pattern=BATTLE_ID)]


class Body(BaseModel):
    """Base of every request body: strict types, no unknown fields."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class VoteBody(Body):
    """``POST /api/vote``: the verdict on one of the caller's battles."""

    battle_id: BattleId
    winner: Winner


class LoginBody(Body):
    """``POST /api/login``: an invite token or the admin token (surrounding blanks are ignored)."""

    token: Token


class InviteBody(Body):
    """``POST /api/admin/invite``: the new annotator's name (unique; surrounding blanks are ignored)."""

    name: Name


class HideBody(Body):
    """``POST /api/admin/models``: hide a model from new battles, or show it again."""

    model: ModelName
    hidden: bool
