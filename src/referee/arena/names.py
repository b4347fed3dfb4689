"""Annotator names that look like what they are.

A name is shown to the admin (and in exports) as the identity behind votes, so it must not be
able to impersonate another one:

* it is stored **NFC-normalised** (Unicode Standard Annex #15), so ``"é"`` typed as one code
  point or as ``e`` + a combining accent is one name;
* **control and format characters are refused**: bidirectional overrides and isolates
  (U+202A–U+202E, U+2066–U+2069, which reorder how the rest of a line is displayed), zero-width
  characters, line separators (Unicode categories ``Cc``, ``Cf``, ``Zl``, ``Zp``, ``Co``, ``Cs``);
* a name **confusable with an existing one** is refused: both are reduced to a *skeleton*
  (NFKC, case-folded, each character that is a homoglyph of a Latin letter or digit replaced by
  it, after Unicode Technical Standard #39's idea of confusable skeletons) and equal skeletons
  clash — ``аlice`` with a Cyrillic ``а`` is ``alice``, and so is ``ALICE``.  The homoglyph
  table is the Unicode consortium's ``confusables.txt`` as packaged by ``confusable-homoglyphs``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from functools import lru_cache

from referee.errors import InputError

MAX_LENGTH = 200
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Co", "Cs"})


def clean_name(name: str) -> str:
    """``name`` stripped and NFC-normalised; an ``InputError`` naming the character when it holds
    a control or format character, or when it is empty or longer than :data:`MAX_LENGTH`."""
    name = unicodedata.normalize("NFC", name).strip()
    if not name or len(name) > MAX_LENGTH:
        raise InputError(f"an annotator name must be 1–{MAX_LENGTH} characters", field="name")
    for ch in name:
        if unicodedata.category(ch) in REFUSED_CATEGORIES:
            label = unicodedata.name(ch, "a control character")
            raise InputError(f"an annotator name may not contain U+{ord(ch):04X} ({label})", field="name")
    return name


@lru_cache(maxsize=4096)
def _latin(ch: str) -> str:
    """The Latin letter or digit ``ch`` is a homoglyph of, else ``ch``."""
    if ch.isascii():
        return ch
    from confusable_homoglyphs import confusables

    found = confusables.is_confusable(ch, preferred_aliases=["latin"])
    if not found:
        return ch
    for glyph in found[0]["homoglyphs"]:
        c = str(glyph["c"])
        if c.isascii() and c.isalnum():
            return c.casefold()
    return ch


def skeleton(name: str) -> str:
    """What ``name`` looks like: NFKC, case-folded, homoglyphs of Latin letters and digits
    replaced by them, whitespace collapsed."""
    folded = unicodedata.normalize("NFKC", name).casefold()
    return " ".join("".join(_latin(ch) for ch in folded).split())


def lookalike(name: str, existing: Iterable[str]) -> str | None:
    """The first of ``existing`` that looks like ``name`` but is not it, else None (an identical
    name is left to the database's unique constraint, which says "already exists")."""
    mine = skeleton(name)
    return next((other for other in existing if other != name and skeleton(other) == mine), None)


__all__ = ["MAX_LENGTH", "clean_name", "lookalike", "skeleton"]
