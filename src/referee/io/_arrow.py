"""Vectorised helpers for the fast path: pyarrow tables to canonical columns.

The fast path never reports errors itself.  Whenever a column is not exactly what
we expect (a number where a label belongs, nulls in a required column, a parse
failure) it raises :class:`Fallback`, and the caller re-reads the file line by line
in Python, which finds and reports the first bad line exactly.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from referee.io.source import no_gc


class Fallback(Exception):
    """The fast path cannot vouch for this input; re-read it slowly."""


#: what the fast path may raise on odd input (e.g. invalid UTF-8 in a key): all mean "re-read slowly"
FAST_PATH_ERRORS = (Fallback, pa.ArrowException, ValueError, TypeError, KeyError, IndexError, OverflowError)


def read_jsonl(src: Any, keys: Collection[str] | None = None, types: Mapping[str, pa.DataType] | None = None) -> pa.Table:
    """Parse a JSON Lines source with pyarrow (raises :class:`Fallback` on any failure).

    With ``keys``, only those keys become columns when their types are known: from the
    first lines (integers widened to float64 where ``types`` says float64), else from
    ``types``.  pyarrow then skips building every other column (a third of the parse for
    Arena logs).  A declared key that never occurs comes out all-null and is dropped again.
    Without ``keys``, or when a type is unknown or nested, every key is read.
    """
    schema = _declared(src, keys, types or {}) if keys is not None else None
    parse = None if schema is None else pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    try:
        tbl = pj.read_json(src.arrow_input(), parse_options=parse)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise Fallback(str(exc)) from None
    if schema is not None:
        absent = [f.name for f in schema if f.metadata and tbl[f.name].null_count == tbl.num_rows]
        tbl = tbl.drop_columns(absent) if absent else tbl
    return tbl


def _declared(src: Any, keys: Collection[str], types: Mapping[str, pa.DataType]) -> pa.Schema | None:
    """The explicit schema of ``keys`` for :func:`read_jsonl`, or None to read every key.

    Fields not seen in the first lines carry the metadata ``{"declared": "1"}``."""
    head = src.head
    end = head.rfind(b"\n")
    if end < 0:
        return None
    try:
        seen = pj.read_json(pa.BufferReader(head[: end + 1])).schema
    except (pa.ArrowException, OSError, ValueError):
        return None
    fields = []
    for key in keys:
        t = seen.field(key).type if key in seen.names else None
        if t is None or pa.types.is_null(t):
            if key not in types:
                return None  # a key of unknown type: read everything rather than guess
            fields.append(pa.field(key, types[key], metadata=None if t is not None else {"declared": "1"}))
            continue
        if pa.types.is_integer(t) and pa.types.is_floating(types.get(key, pa.null())):
            t = types[key]  # 1 in the first lines, 0.5 later
        if pa.types.is_nested(t) or pa.types.is_dictionary(t):
            return None
        fields.append(pa.field(key, t))
    return pa.schema(fields)


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
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t))


def is_number(t: pa.DataType) -> bool:
    """Integer or floating point (not boolean)."""
    return bool(pa.types.is_integer(t) or pa.types.is_floating(t))


def valid_utf8(col: pa.ChunkedArray) -> None:
    """pyarrow's JSON reader does not check UTF-8; do it before pandas sees the strings."""
    try:
        col.validate(full=True)
    except pa.ArrowException as exc:
        raise Fallback(str(exc)) from None


def decode(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """A dictionary-encoded column (what pandas writes to Parquet for a ``category`` column) as its values."""
    if pa.types.is_dictionary(col.type):
        return col.cast(col.type.value_type)
    return col


def is_label_type(t: pa.DataType) -> bool:
    """A type :func:`categories` accepts: strings, dictionary-encoded strings, or all-null."""
    if pa.types.is_dictionary(t):
        t = t.value_type
    return is_text(t) or pa.types.is_null(t)


def categories(cols: Sequence[pa.ChunkedArray]) -> list[pd.Categorical]:
    """Text columns as pandas Categoricals over one shared, sorted list of the values present.

    Model names and winner labels take a few distinct values over millions of rows: each
    chunk is dictionary-encoded by arrow (a Parquet dictionary column keeps its codes, no
    string is decoded) and only the small dictionaries reach Python; the codes are then
    gathered once into the final (sorted) code space.  Columns encoded together share their
    categories, so ``model_a == model_b`` compares them.  Nulls are missing values
    (validation names their line).  Anything but text raises :class:`Fallback`.
    """
    chunks: list[list[tuple[pa.Array | None, list[Any]]]] = []
    present: set[str] = set()
    for col in cols:
        if not is_label_type(col.type):
            raise Fallback(f"type {col.type}")
        parts: list[tuple[pa.Array | None, list[Any]]] = []
        for chunk in col.chunks:
            if pa.types.is_null(chunk.type):
                parts.append((None, []))
                continue
            if not pa.types.is_dictionary(chunk.type):
                chunk = pc.dictionary_encode(chunk)
            try:  # pyarrow's JSON reader does not check UTF-8: check the distinct values only
                chunk.dictionary.validate(full=True)
                values = chunk.dictionary.to_pylist()
            except (pa.ArrowException, UnicodeDecodeError) as exc:
                raise Fallback(str(exc)) from None
            present.update(v for v in values if v is not None)
            parts.append((chunk.indices, values))
        chunks.append(parts)
    names = sorted(present)
    pos = {v: i for i, v in enumerate(names)}
    small: type[np.signedinteger[Any]] = next(t for t in (np.int8, np.int16, np.int32, np.int64) if len(names) < np.iinfo(t).max)
    index = pd.Index(names, dtype=object)
    out = []
    for col, parts in zip(cols, chunks, strict=True):
        codes = np.empty(len(col), dtype=small)
        start = 0
        for indices, values in parts:
            n = len(values) if indices is None else len(indices)
            if indices is None:
                codes[start:start + n] = -1
            else:
                lookup = np.array([-1 if v is None else pos[v] for v in values] + [-1], dtype=small)
                if indices.null_count:
                    indices = pc.fill_null(indices, len(values))
                np.take(lookup, indices.to_numpy(zero_copy_only=False), out=codes[start:start + n])
            start += n
        out.append(pd.Categorical.from_codes(codes, categories=index, validate=False))
    return out


def sorted_categoricals(codes: Sequence[np.ndarray], names: list[str]) -> list[pd.Categorical]:
    """Categoricals over ``names`` sorted (so sorting or grouping them orders as the strings do);
    ``codes`` index ``names``, -1 for missing."""
    order = np.argsort(np.asarray(names, dtype=object), kind="stable") if names else np.zeros(0, dtype=np.int64)
    remap = np.empty(len(names) + 1, dtype=np.int64)
    remap[order] = np.arange(len(names))
    remap[-1] = -1
    index = pd.Index([names[i] for i in order], dtype=object)
    small: type[np.signedinteger[Any]] = next(t for t in (np.int8, np.int16, np.int32, np.int64) if len(names) < np.iinfo(t).max)
    return [
        pd.Categorical.from_codes(remap[c].astype(small), categories=index, validate=False) for c in codes
    ]


def text(col: pa.ChunkedArray, *, required: bool = False, ids: bool = False) -> pa.ChunkedArray | None:
    """A string column; integers are accepted (and cast) only for identifiers."""
    col = decode(col)
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
    col = decode(col)
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


def label_categories(
    col: pa.ChunkedArray, allowed: tuple[str, ...], synonyms: dict[str, str]
) -> tuple[pd.Categorical, dict[str, int]]:
    """:func:`labels` as a Categorical over ``allowed``: every label must be allowed (after
    mapping ``synonyms``) and present; returns it and the mapping counts."""
    (cat,) = categories([col])
    codes = np.asarray(cat.codes)
    if (codes < 0).any():
        raise Fallback("nulls")
    names = [str(c) for c in cat.categories]
    if not set(names) <= set(allowed) | set(synonyms):
        raise Fallback("unknown label")
    final = sorted({n if n in allowed else synonyms[n] for n in names})  # the labels present, mapped
    target = np.array([final.index(n if n in allowed else synonyms[n]) for n in names], dtype=np.int64)
    mapped = {f"{n} -> {synonyms[n]}": int(np.count_nonzero(codes == i))
              for i, n in enumerate(names) if n not in allowed}
    (out,) = sorted_categoricals([target[codes] if names else codes.astype(np.int64)], final)
    return out, mapped


def categorical_text(cat: pd.Categorical) -> pd.Series:
    """A Categorical of strings as a string column (decoded by arrow: no Python string per row)."""
    codes = np.asarray(cat.codes)
    values = pa.array(np.asarray(cat.categories, dtype=object), type=pa.string())
    text: pd.Series = pa.DictionaryArray.from_arrays(pa.array(codes, mask=codes < 0), values).cast(pa.string()).to_pandas()
    return text


def to_series(col: pa.ChunkedArray | pa.Array | pd.Categorical) -> pd.Series:
    """pandas view of an arrow column (strings stay arrow-backed; Categoricals as they are)."""
    if isinstance(col, pd.Categorical):
        return pd.Series(col, copy=False)
    series: pd.Series = col.to_pandas()  # pyarrow: no stubs
    return series


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
