"""The gold pairs a probe run perturbs: any comparisons table :func:`referee.read` reads (or a
DataFrame) with the prompt, both responses and a decisive gold ``winner``.

Pairs whose gold winner is a tie are left out (a flip "toward the edited response" needs a gold
loser) and counted in a note; so are pairs whose two responses are the same text.  ``n`` draws a
seeded sample of the pairs (without replacement, kept in file order).
"""

from __future__ import annotations

import random
from typing import Any

from referee.errors import InputError, source_name
from referee.probing.perturb import GoldPair

TEXT_COLUMNS = ("prompt", "response_a", "response_b")


def gold_pairs(pairs: Any, *, n: int | None = None, seed: int = 0) -> tuple[list[GoldPair], list[str]]:
    """(the gold pairs, notes) from a comparisons table or file(s); see the module docstring."""
    import pandas as pd

    where = source_name(pairs)
    if isinstance(pairs, pd.DataFrame):
        df = pairs
    else:
        from referee.io import read

        if pairs is None:
            raise InputError("no gold pairs: pass `pairs=FILE` (prompt, response_a, response_b, winner)", field="pairs")
        df = read(pairs)
    lacking = [c for c in TEXT_COLUMNS if c not in df.columns or df[c].isna().all()]
    if lacking:
        raise InputError(
            f"the gold pairs have no {', '.join(lacking)}: probes edit and compare the response texts, so "
            "`pairs` must hold the prompt and both responses (e.g. prompt, response_a, response_b, winner)",
            path=where, field=lacking[0],
        )  # fmt: skip
    if n is not None and n < 1:
        raise InputError(f"`n` must be at least 1, got {n}", field="n")
    out: list[GoldPair] = []
    ties = same = missing = 0
    for i, rec in enumerate(df.to_dict("records")):
        a, b, prompt = rec.get("response_a"), rec.get("response_b"), rec.get("prompt")
        if not all(isinstance(t, str) for t in (a, b, prompt)):
            missing += 1
            continue
        winner = rec.get("winner")
        if winner not in ("model_a", "model_b"):
            ties += 1
            continue
        if a == b:
            same += 1
            continue
        w, lo = (a, b) if winner == "model_a" else (b, a)
        pid = f"{rec.get('prompt_id', i)}#{i}"
        cat = rec.get("category")
        out.append(GoldPair(pid, str(prompt), str(w), str(lo), cat if isinstance(cat, str) else None))
    notes = []
    if ties:
        notes.append(f"{ties} gold pair(s) without a decisive winner (ties) left out")
    if same:
        notes.append(f"{same} gold pair(s) whose two responses are the same text left out")
    if missing:
        notes.append(f"{missing} gold pair(s) without the prompt or a response text left out")
    if not out:
        raise InputError("no gold pair has a prompt, two different responses and a decisive winner", path=where,
                         field="winner")
    if n is not None and n < len(out):
        keep = sorted(random.Random(seed).sample(range(len(out)), n))
        notes.append(f"{n} of {len(out)} gold pairs drawn (seed {seed})")
        out = [out[i] for i in keep]
    return out, notes


__all__ = ["TEXT_COLUMNS", "gold_pairs"]
