"""The canonical comparisons table and its validation.

Every producer (readers, the judge runner, the arena) writes this table and every
consumer (rank, audit, report) reads it.  Columns:

================  =====================================================================
``model_a``       first competitor, in the order *shown* (position matters for audits)
``model_b``       second competitor
``winner``        exactly one of ``model_a``, ``model_b``, ``tie``, ``tie (bothbad)``
``strength``      graded verdicts: 2 for ``A>>B``/``B>>A``, 1 for ``A>B``/``B>A`` (ties 0)
``prob_a``        soft verdict P(a beats b) in [0, 1] (e.g. from judge logprobs)
``prompt_id``     identifier of the prompt/instruction (cluster for the bootstrap)
``prompt``        prompt text; ``response_a`` / ``response_b`` the two responses
``category``      task category; ``judge`` who decided; ``voter`` annotator id
``weight``        non-negative observation weight (default 1)
``tstamp``        unix time of the verdict
``pair_id``       links the two presentation orders of one pair; ``order`` is 1 or 2
================  =====================================================================

Style-control features may be supplied as extra numeric columns (see
:mod:`referee.ranking.style`).
"""

from __future__ import annotations

import unicodedata
import warnings
from collections import Counter
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from referee.errors import InputError, NameWarning

MODEL_A, MODEL_B, TIE, TIE_BOTHBAD = "model_a", "model_b", "tie", "tie (bothbad)"
WINNERS: tuple[str, ...] = (MODEL_A, MODEL_B, TIE, TIE_BOTHBAD)
#: the two tie labels
TIE_LABELS: tuple[str, ...] = (TIE, TIE_BOTHBAD)
#: a winner label seen from the other presentation order
SWAP_WINNER: dict[str, str] = {MODEL_A: MODEL_B, MODEL_B: MODEL_A, TIE: TIE, TIE_BOTHBAD: TIE_BOTHBAD}

#: Integer outcome codes used inside the rank engine (index into WINNERS).
A_WINS, B_WINS, TIES, BOTHBAD = 0, 1, 2, 3

REQUIRED: tuple[str, ...] = ("model_a", "model_b", "winner")

#: column -> kind ("str", "float", "int") for the optional canonical columns.
OPTIONAL: dict[str, str] = {
    "strength": "float",
    "prob_a": "float",
    "prompt_id": "str",
    "prompt": "str",
    "response_a": "str",
    "response_b": "str",
    "category": "str",
    "judge": "str",
    "voter": "str",
    "weight": "float",
    "tstamp": "float",
    "pair_id": "str",
    "order": "int",
    "turn": "int",
    "language": "str",
}

CANONICAL: tuple[str, ...] = REQUIRED + tuple(OPTIONAL)


def _first_bad(mask: np.ndarray, df: pd.DataFrame) -> int | None:
    """1-based source line of the first offending row (uses a ``_line`` column when present)."""
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return None
    if "_line" in df.columns:
        return int(df["_line"].iloc[idx[0]])
    return int(idx[0]) + 1


def validate(
    df: pd.DataFrame, source: str | None = None, *, merge_case: bool = False, check_names: bool = True
) -> pd.DataFrame:
    """Check a comparisons table and return it with canonical dtypes and model names.

    Raises :class:`InputError` naming the file, line and field of the first problem:
    a missing required column, an empty table, a missing model name, an unknown
    winner label (never silently a tie), a ``prob_a`` outside [0, 1], a negative
    weight, a ``strength`` that is not 0/1/2.  Rows are never dropped here.

    Model names (``model_a``, ``model_b``) are normalised by :func:`normalise_names`:
    Unicode NFC (so a composed and a decomposed "é" are one model) with surrounding
    whitespace stripped.  With ``check_names`` (the default), names that still differ only
    by letter case, or that differed only by surrounding whitespace, are reported once:
    a :class:`~referee.errors.NameWarning` listing each group of spellings, and
    ``attrs["name_variants"]`` (see :func:`case_variants`); ``merge_case=True`` merges each
    group into one canonical spelling.  Everything works on the distinct names
    (``pd.factorize``), so the cost does not grow with the number of rows beyond one
    pass of factorisation.
    """
    if len(df) == 0:
        raise InputError("no comparisons found (empty input)", path=source)
    for col in REQUIRED:
        if col not in df.columns:
            if col == "winner" and "prob_a" in df.columns:
                continue
            raise InputError(
                f"missing required column; columns present: {', '.join(map(str, df.columns[:20]))}",
                path=source,
                field=col,
            )
    out = df.copy(deep=False)  # columns are replaced, never modified in place
    factorised: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for col in ("model_a", "model_b"):
        # factorise once: checks and conversions then touch the few distinct values only
        codes, uniques = _factorize(out[col])
        names = np.array([str(u) for u in uniques], dtype=object)
        blank = np.array([not n.strip() or not isinstance(u, str | int | np.integer) for n, u in zip(names, uniques, strict=True)], dtype=bool)
        bad = (codes < 0) | (blank[codes] if names.size else False)
        if bad.any():
            raise InputError("missing model name", path=source, line=_first_bad(bad, out), field=col)
        factorised[col] = (codes, names)
        if not all(isinstance(u, str) for u in uniques):
            out[col] = names[codes]
    if "winner" not in out.columns:
        out["winner"] = winner_from_prob(out["prob_a"].to_numpy(dtype=float))
    codes, uniques = _factorize(out["winner"])
    known_u = np.array([isinstance(u, str) and u in WINNERS for u in uniques], dtype=bool)
    known = (codes >= 0) & (known_u[codes] if uniques.size else False)
    if not known.all():
        line = _first_bad(~known, out)
        label = out["winner"][~known].iloc[0]
        raise InputError(
            f"unknown winner label {label!r}; expected one of {', '.join(map(repr, WINNERS))}",
            path=source,
            line=line,
            field="winner",
        )
    for col, kind in OPTIONAL.items():
        if col not in out.columns:
            continue
        if kind in ("float", "int"):
            if pd.api.types.is_numeric_dtype(out[col].dtype) and not pd.api.types.is_bool_dtype(out[col].dtype):
                if kind == "float" and out[col].dtype != float:
                    out[col] = out[col].astype(float)
                continue
            num = pd.to_numeric(out[col], errors="coerce")
            bad = num.isna().to_numpy() & out[col].notna().to_numpy()
            if bad.any():
                raise InputError(
                    f"not a number: {out[col][bad].iloc[0]!r}", path=source, line=_first_bad(bad, out), field=col
                )
            out[col] = num.astype(float) if kind == "float" else num
        elif not isinstance(out[col].dtype, pd.StringDtype):
            out[col] = out[col].where(out[col].isna(), out[col].astype(str))
    if "prob_a" in out.columns:
        p = out["prob_a"].to_numpy(dtype=float)
        bad = (p < 0) | (p > 1)
        if bad.any():
            raise InputError("prob_a must lie in [0, 1]", path=source, line=_first_bad(bad, out), field="prob_a")
    if "weight" in out.columns:
        wt = out["weight"].to_numpy(dtype=float)
        bad = ~np.isnan(wt) & (~np.isfinite(wt) | (wt < 0))  # a missing weight is 1
        if bad.any():
            raise InputError("weight must be a finite number >= 0", path=source, line=_first_bad(bad, out), field="weight")
    if "strength" in out.columns:
        st = out["strength"].to_numpy(dtype=float)
        bad = ~np.isnan(st) & ~np.isin(st, (0.0, 1.0, 2.0))
        if bad.any():
            raise InputError("strength must be 0, 1 or 2", path=source, line=_first_bad(bad, out), field="strength")
    return normalise_names(out, factorised, merge_case=merge_case, check_names=check_names, source=source)


def case_variants(counts: Counter[str]) -> list[dict[str, Any]]:
    """Groups of spellings that differ only by case or surrounding whitespace, with their canonical spelling.

    ``counts`` maps each NFC-normalised spelling (whitespace *not* yet stripped) to the
    number of times it occurs as ``model_a`` or ``model_b``.  Spellings are grouped by the
    key ``casefold(strip(s))`` (Unicode default case folding, so "STRASSE" and "straße"
    are one group); a group is reported when it holds more than one spelling.  Its
    canonical spelling is the stripped spelling with the most occurrences (the counts of
    spellings that differ only by whitespace are added), ties broken by the smallest in
    code-point order — deterministic and independent of row order.  Each group is
    ``{"spellings": [...], "canonical": str}``, spellings sorted; groups sorted by canonical.
    """
    groups: dict[str, list[str]] = {}
    for spelling in counts:
        groups.setdefault(spelling.strip().casefold(), []).append(spelling)
    out = []
    for members in groups.values():
        if len(members) < 2:
            continue
        stripped: Counter[str] = Counter()
        for m in members:
            stripped[m.strip()] += counts[m]
        canonical = min(stripped, key=lambda s: (-stripped[s], s))
        out.append({"spellings": sorted(members), "canonical": canonical})
    return sorted(out, key=lambda g: g["canonical"])


def normalise_names(
    df: pd.DataFrame,
    factorised: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
    *,
    merge_case: bool = False,
    check_names: bool = True,
    source: str | None = None,
) -> pd.DataFrame:
    """NFC-normalise and strip the model names; report (or, with ``merge_case``, merge) case variants.

    Names are compared after Unicode normalisation form C (canonical equivalence, UAX #15):
    canonically equivalent strings are the same name by the Unicode standard, so they are
    merged silently.  Surrounding whitespace is always stripped ("gpt-4 " is "gpt-4"): it is
    never meaningful in a model name and usually a formatting slip.  Names that differ only
    by letter case ("gpt-4" / "GPT-4") may be distinct models, so they are kept apart unless
    ``merge_case`` is set, in which case every spelling of a group becomes its canonical
    spelling (:func:`case_variants`).  With ``check_names``, each group that had more than one
    spelling in the input is listed in a :class:`~referee.errors.NameWarning` and in
    ``df.attrs["name_variants"]`` (``{"spellings", "canonical", "names"}``: ``names`` are the
    model names the group became, one when merged).  ``factorised`` (column ->
    (codes, distinct names)) avoids factorising the columns again.  Modifies ``df`` in place
    and returns it.
    """
    counts: Counter[str] = Counter()
    mapped: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for col in ("model_a", "model_b"):
        if factorised is not None and col in factorised:
            codes, names = factorised[col]
        else:
            codes, uniques = pd.factorize(df[col], use_na_sentinel=True)
            names = np.array([str(u) for u in uniques], dtype=object)
        nfc = np.array([unicodedata.normalize("NFC", n) for n in names], dtype=object)
        if check_names and names.size:
            freq = np.bincount(codes[codes >= 0], minlength=names.size)
            for n, c in zip(nfc, freq, strict=True):
                counts[n] += int(c)
        mapped[col] = (codes, names, nfc)
    groups = case_variants(counts) if check_names else []
    merge = {s: g["canonical"] for g in groups for s in g["spellings"]} if merge_case else {}
    for col, (codes, names, nfc) in mapped.items():
        final = np.array([merge.get(n, n.strip()) for n in nfc], dtype=object)
        if final.size and not np.array_equal(final, names):
            if isinstance(df[col].dtype, pd.CategoricalDtype):  # stays categorical, categories deduplicated
                cats, inverse = np.unique(final.astype(str), return_inverse=True)
                new = np.where(codes >= 0, inverse[codes], -1)
                df[col] = pd.Categorical.from_codes(new, categories=pd.Index(cats, dtype=object))
            else:
                df[col] = final[codes]
    if groups:
        for g in groups:
            g["names"] = [g["canonical"]] if merge_case else sorted({s.strip() for s in g["spellings"]})
        df.attrs["name_variants"] = groups
        warnings.warn(name_warning(groups, merge_case, source), NameWarning, stacklevel=3)
    return df


def name_warning(groups: list[dict[str, Any]], merge_case: bool, source: str | None = None) -> str:
    """One line naming each group of spellings and the model name(s) it became."""

    def one(g: dict[str, Any]) -> str:
        spellings = ", ".join(repr(s) for s in g["spellings"])
        kept = ", ".join(repr(n) for n in g["names"])
        return f"{spellings} ({'merged into' if len(g['names']) == 1 else 'kept as'} {kept})"

    shown = "; ".join(one(g) for g in groups[:5]) + (f"; and {len(groups) - 5} more" if len(groups) > 5 else "")
    split = any(len(g["names"]) > 1 for g in groups)
    hint = "" if not split else "; `referee rank --merge-case` (merge_case=True) merges names that differ only by case"
    where = f"{source}: " if source else ""
    return f"{where}model names that differ only by case or surrounding whitespace: {shown}{hint}"


def _factorize(col: pd.Series) -> tuple[np.ndarray, Any]:
    """(codes, distinct values) with −1 for missing; a Categorical's own codes (no hashing)."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        return col.cat.codes.to_numpy(), np.asarray(col.cat.categories, dtype=object)
    return pd.factorize(col, use_na_sentinel=True)


def winner_from_prob(prob_a: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Hard label from a soft verdict: a if P(a) > 0.5, b if < 0.5, tie at exactly 0.5."""
    p = np.asarray(prob_a, dtype=float)
    return np.where(p > 0.5 + eps, MODEL_A, np.where(p < 0.5 - eps, MODEL_B, TIE))


def outcome_codes(winner: pd.Series | np.ndarray) -> np.ndarray:
    """Map winner labels to the integer codes A_WINS, B_WINS, TIES, BOTHBAD."""
    if isinstance(winner, pd.Series):
        codes, uniques = _factorize(winner)
    else:
        codes, uniques = pd.factorize(np.asarray(winner), use_na_sentinel=True)
    lookup = np.array([WINNERS.index(u) if u in WINNERS else -1 for u in uniques], dtype=np.int8)
    out = lookup[codes] if uniques.size else np.zeros(0, dtype=np.int8)
    if (codes < 0).any() or (out < 0).any():
        raise InputError("unknown winner label", field="winner")
    return out


def empty_table(columns: Iterable[str] = CANONICAL) -> pd.DataFrame:
    """An empty comparisons table with the given columns."""
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
