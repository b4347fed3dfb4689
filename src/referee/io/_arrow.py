"""Vectorised helpers for the fast path: pyarrow tables to canonical columns.

The fast path never reports errors itself.  Whenever a column is not exactly what
we expect (a number where a label belongs, nulls in a required column, a parse
failure) it raises :class:`Fallback`, and the caller re-reads the file line by line
in Python, which finds and reports the first bad line exactly.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from referee.io._source import no_gc


class Fallback(Exception):
    """The fast path cannot vouch for this input; re-read it slowly."""


#: what the fast path may raise on odd input (e.g. invalid UTF-8 in a key): all mean "re-read slowly"
FAST_PATH_ERRORS = (Fallback, pa.ArrowException, ValueError, TypeError, KeyError, IndexError, OverflowError)


def read_jsonl(src: Any) -> pa.Table:
    """Parse a JSON Lines source with pyarrow (raises :class:`Fallback` on any failure)."""
    try:
        return pj.read_json(src.arrow_input())
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise Fallback(str(exc)) from None


def from_records(records: list[tuple[int, dict[str, Any]]], keys: frozenset[str] | None = None) -> pa.Table:
    """An arrow table from parsed JSON records (e.g. a JSON array), one inferred column per key.

    ``keys`` limits the columns built.  Mixed types in a column raise :class:`Fallback`.
    """
    present: set[str] = set()
    for _, rec in records:
        present.update(rec)
    names = sorted(present if keys is None else present & keys)
    try:
        with no_gc():
            return pa.table({k: pa.array([rec.get(k) for _, rec in records]) for k in names})
    except (pa.ArrowException, ValueError, TypeError, OverflowError) as exc:
        raise Fallback(str(exc)) from None


def is_text(t: pa.DataType) -> bool:
    """Any arrow string type."""
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


def is_number(t: pa.DataType) -> bool:
    """Integer or floating point (not boolean)."""
    return pa.types.is_integer(t) or pa.types.is_floating(t)


def valid_utf8(col: pa.ChunkedArray) -> None:
    """pyarrow's JSON reader does not check UTF-8; do it before pandas sees the strings."""
    try:
        col.validate(full=True)
    except pa.ArrowException as exc:
        raise Fallback(str(exc)) from None


def text(col: pa.ChunkedArray, *, required: bool = False, ids: bool = False) -> pa.ChunkedArray | None:
    """A string column; integers are accepted (and cast) only for identifiers."""
    t = col.type
    if pa.types.is_null(t):
        if required:
            raise Fallback("null column")
        return None
    if is_text(t):
        valid_utf8(col)
    elif ids and pa.types.is_integer(t):
        col = col.cast(pa.string())
    else:
        raise Fallback(f"type {t}")
    if required and col.null_count:
        raise Fallback("nulls")
    return col


def number(col: pa.ChunkedArray, *, integer: bool = False) -> pa.ChunkedArray | None:
    """A numeric column (integers only when ``integer``); booleans and strings are refused."""
    t = col.type
    if pa.types.is_null(t):
        return None
    if pa.types.is_integer(t) or (not integer and pa.types.is_floating(t)):
        return col
    raise Fallback(f"type {t}")


def boolean(col: pa.ChunkedArray) -> pa.ChunkedArray | None:
    """A true/false column."""
    t = col.type
    if pa.types.is_null(t):
        return None
    if pa.types.is_boolean(t):
        return col
    raise Fallback(f"type {t}")


def labels(col: pa.ChunkedArray, allowed: tuple[str, ...], synonyms: dict[str, str]) -> tuple[Any, dict[str, int]]:
    """Check every label is allowed (after mapping ``synonyms``); return labels and mapping counts."""
    col = text(col, required=True)
    if col is None:
        raise Fallback("no labels")
    counts = pc.value_counts(col)  # one hash pass: the distinct labels and how often each occurs
    seen = dict(zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True))
    if not set(seen) <= set(allowed) | set(synonyms):
        raise Fallback("unknown label")
    mapped: dict[str, int] = {}
    for old, new in synonyms.items():
        if seen.get(old):
            col = pc.if_else(pc.equal(col, old), new, col)
            mapped[f"{old} -> {new}"] = seen[old]
    return col, mapped


def to_series(col: pa.ChunkedArray | pa.Array) -> pd.Series:
    """pandas view of an arrow column (strings stay arrow-backed)."""
    return col.to_pandas()


def chat(col: pa.ChunkedArray) -> tuple[pa.Array, pa.Array]:
    """(first user message, assistant messages joined by a blank line) of a list of {role, content}."""
    arr = col.combine_chunks()
    t = arr.type
    if not (pa.types.is_list(t) or pa.types.is_large_list(t)) or not pa.types.is_struct(t.value_type):
        raise Fallback(f"type {t}")
    names = [f.name for f in t.value_type]
    if "role" not in names or "content" not in names:
        raise Fallback("no role/content")
    flat = pc.list_flatten(arr)
    role, content = flat.field("role"), flat.field("content")
    if not (is_text(role.type) or pa.types.is_null(role.type)) or not (
        is_text(content.type) or pa.types.is_null(content.type)
    ):
        raise Fallback("non-text messages")
    for part in (role, content):
        if is_text(part.type):
            try:
                part.validate(full=True)
            except pa.ArrowException as exc:
                raise Fallback(str(exc)) from None
    content = pc.fill_null(content.cast(pa.string()), "")
    parents = np.asarray(pc.list_parent_indices(arr))
    n = len(arr)

    is_user = np.asarray(pc.fill_null(pc.equal(role.cast(pa.string()), "user"), False))
    user_parent = parents[is_user]
    first = np.full(n, -1, dtype=np.int64)
    uniq, idx = np.unique(user_parent, return_index=True)
    first[uniq] = np.flatnonzero(is_user)[idx]
    prompt = content.take(pa.array(first, mask=first < 0))

    is_asst = np.asarray(pc.fill_null(pc.equal(role.cast(pa.string()), "assistant"), False))
    counts = np.bincount(parents[is_asst], minlength=n)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    lists = pa.LargeListArray.from_arrays(pa.array(offsets), content.filter(pa.array(is_asst)))
    joined = pc.binary_join(lists, "\n\n")
    joined = pc.if_else(arr.is_null(), pa.scalar(None, pa.string()), joined)
    return prompt, joined


def metadata(col: pa.ChunkedArray, names: dict[str, str]) -> dict[str, pa.Array]:
    """Numeric fields ``names`` (field -> column) of a struct column, nested numeric structs
    summed (Arena ``conv_metadata``: ``header_count_a = {h1: .., h2: ..}`` -> their total)."""
    arr = col.combine_chunks()
    if pa.types.is_null(arr.type):
        return {}
    if not pa.types.is_struct(arr.type):
        raise Fallback(f"type {arr.type}")
    out: dict[str, pa.Array] = {}
    for i, f in enumerate(arr.type):
        if f.name not in names:
            continue
        child = arr.field(i)
        if is_number(f.type):
            total = child.cast(pa.float64())
        elif pa.types.is_struct(f.type) and f.type.num_fields and all(is_number(g.type) for g in f.type):
            total = pc.fill_null(child.field(0).cast(pa.float64()), 0.0)
            for j in range(1, f.type.num_fields):
                total = pc.add(total, pc.fill_null(child.field(j).cast(pa.float64()), 0.0))
            total = pc.if_else(child.is_null(), pa.scalar(None, pa.float64()), total)
        elif pa.types.is_null(f.type):
            continue
        else:
            raise Fallback(f"{f.name}: {f.type}")
        out[names[f.name]] = pc.if_else(arr.is_null(), pa.scalar(None, pa.float64()), total)
    return out


def metadata_py(meta: Any, names: dict[str, str]) -> dict[str, float]:
    """Python twin of :func:`metadata` for one record's dict (other values are ignored)."""
    out: dict[str, float] = {}
    if not isinstance(meta, dict):
        return out
    for key, value in meta.items():
        if key not in names:
            continue
        values = value.values() if isinstance(value, dict) else [value]
        if value is None or not all(v is None or _is_num(v) for v in values):
            continue
        try:
            out[names[key]] = float(sum(v for v in values if v is not None))
        except OverflowError:
            continue
    return out


def _is_num(v: Any) -> bool:
    """A JSON number (bool excluded)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool)
