"""Generic comparisons tables: JSON Lines, JSON array, CSV/TSV or Parquet with canonical columns.

``model_a``, ``model_b`` and ``winner`` are required (``winner`` may be left out when
``prob_a`` is given); the other canonical columns are optional and every extra column
is kept as it is (numeric extras serve as style covariates).
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

import pandas as pd
import pyarrow as pa

from referee.errors import InputError
from referee.io import _arrow as fa
from referee.io.fields import Fields, type_and_value
from referee.io.source import Parsed, Source
from referee.schema import OPTIONAL, REQUIRED

TEXT_COLUMNS = frozenset(REQUIRED) | {c for c, k in OPTIONAL.items() if k == "str"}
NUMBER_COLUMNS = frozenset(c for c, k in OPTIONAL.items() if k != "str")
#: arrow type of each canonical column, for a JSON Lines read of chosen columns
TYPES: dict[str, pa.DataType] = {c: pa.string() for c in TEXT_COLUMNS} | {
    c: pa.int64() if OPTIONAL[c] == "int" else pa.float64() for c in NUMBER_COLUMNS
}


def read(src: Source, fast: bool = True, keep: frozenset[str] | None = None, **_: Any) -> Parsed:
    """Read a generic table; pyarrow first, an exact line-by-line pass when that fails.

    ``keep``: the columns wanted (None: all); the others are not converted (Parquet: not read).
    """
    if src.kind == "parquet":
        return _read_parquet(src, keep)
    if fast:
        try:
            readers: dict[str, Callable[[Source], Any]] = {  # each returns a pyarrow Table
                "jsonl": lambda s: fa.read_jsonl(s, keep, TYPES),
                "csv": _read_csv_arrow,
                "json_array": lambda s: fa.from_records(s.records()),
            }
            tbl = readers[src.kind](src)
            if len(set(tbl.column_names)) != tbl.num_columns:
                raise fa.Fallback("duplicate column names")
            if keep is not None:
                tbl = tbl.select([c for c in tbl.column_names if c in keep])
            return Parsed(_from_table(tbl, _fallback), exact=False)
        except InputError:
            raise
        except fa.FAST_PATH_ERRORS:
            pass
    if src.kind == "csv":
        return Parsed(_read_csv_python(src))
    return Parsed(_from_records(src))


# -- arrow tables (fast path and Parquet) ------------------------------------------------
def _fallback(column: str, t: pa.DataType) -> None:
    raise fa.Fallback(f"{column}: {t}")


def _labels(tbl: pa.Table, bad_type: Any) -> dict[str, pd.Categorical]:
    """``model_a``/``model_b`` (shared categories) and ``winner`` as pandas Categoricals.

    Millions of rows hold a few hundred distinct names: arrow dictionary-encodes them (a
    Parquet dictionary column is read as one) and only the distinct values reach Python.
    """
    out: dict[str, pd.Categorical] = {}
    for group in (("model_a", "model_b"), ("winner",)):
        present = [c for c in group if c in tbl.column_names]
        for c in present:
            if not fa.is_label_type(tbl[c].type):
                bad_type(c, tbl[c].type)
        try:
            out.update(zip(present, fa.categories([tbl[c] for c in present]), strict=True))
        except fa.Fallback:
            bad_type(present[0], tbl[present[0]].type)
    return out


def _from_table(tbl: pa.Table, bad_type: Any) -> pd.DataFrame:
    """Canonical frame from an arrow table; ``bad_type(column, type)`` handles wrong column types."""
    labels = _labels(tbl, bad_type)
    cols: dict[str, Any] = {}
    for name in tbl.column_names:
        col = tbl[name]
        if name == "_line":
            continue
        if name in labels:
            cols[name] = labels[name]
            continue
        try:
            col = fa.decode(col)
            if name in TEXT_COLUMNS:
                col = fa.text(col, ids=name not in REQUIRED)
            elif name in NUMBER_COLUMNS:
                col = fa.number(col, integer=name in ("order", "turn"))
            elif fa.is_text(col.type):
                fa.valid_utf8(col)
        except fa.Fallback:
            bad_type(name, col.type)
        cols[name] = pd.Series([None] * tbl.num_rows, dtype=object) if col is None else fa.to_series(col)
    return pd.DataFrame(cols, copy=False)


def _read_parquet(src: Source, keep: frozenset[str] | None = None) -> Parsed:
    """Parquet carries column types: a wrong one is reported for the column (no line).

    String columns may be stored plain or dictionary-encoded (pandas writes a ``category``
    column so); both are text.  ``model_a``/``model_b``/``winner`` are read straight into
    dictionaries, so their millions of strings are never decoded one by one.
    """
    import pyarrow.parquet as pq  # here, not at import: `referee rank x.jsonl` never loads it

    source = src.path if src.compression is None else pa.BufferReader(src.data)
    try:
        schema = pq.read_schema(source)
        as_dictionary = [f.name for f in schema if f.name in REQUIRED and fa.is_text(f.type)]
        names = None if keep is None else list(dict.fromkeys(n for n in schema.names if n in keep))
        tbl = pq.read_table(source, columns=names, read_dictionary=as_dictionary or None)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise InputError(f"not a readable Parquet file: {exc}", path=src.name) from None
    dupes = sorted({c for c in tbl.column_names if tbl.column_names.count(c) > 1})
    if dupes:
        raise InputError("duplicate column name", path=src.name, field=dupes[0])

    def bad_type(column: str, t: pa.DataType) -> None:
        want = "strings" if column in TEXT_COLUMNS else "numbers"
        raise InputError(f"wrong column type {t}; expected {want}", path=src.name, field=column)

    return Parsed(_from_table(tbl, bad_type))


# -- CSV ---------------------------------------------------------------------------------------
def _delimiter(src: Source) -> str:
    """Tab for ``.tsv`` files, else comma."""
    return "\t" if src.suffix == ".tsv" else ","


def _read_csv_arrow(src: Source) -> pa.Table:
    """pyarrow CSV parse; canonical text columns stay strings ("1" is not a number there)."""
    import pyarrow.csv as pcsv

    labels = pa.dictionary(pa.int32(), pa.string())  # few distinct values: parsed straight into dictionaries
    convert = pcsv.ConvertOptions(
        column_types={c: labels if c in REQUIRED else pa.string() for c in TEXT_COLUMNS},
        null_values=[""],
        strings_can_be_null=True,
    )
    try:
        return pcsv.read_csv(
            src.arrow_input(),
            parse_options=pcsv.ParseOptions(delimiter=_delimiter(src), newlines_in_values=True),
            convert_options=convert,
        )
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise fa.Fallback(str(exc)) from None


@contextmanager
def _big_fields() -> Iterator[None]:
    """Let the csv module read long responses (its default field limit is 128 KiB)."""
    old = csv.field_size_limit()
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    try:
        yield
    finally:
        csv.field_size_limit(old)


def _read_csv_python(src: Source) -> pd.DataFrame:
    """Exact CSV pass: every record knows the line it starts on."""
    reader = csv.reader(io.StringIO(src.text, newline=""), delimiter=_delimiter(src))
    header: list[str] | None = None
    rows: list[list[str | None]] = []
    lines: list[int] = []
    start = 1
    with _big_fields():
        while True:
            try:
                record = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                raise InputError(f"malformed CSV: {exc}", path=src.name, line=reader.line_num) from None
            if record and any(cell.strip() for cell in record):
                if header is None:
                    header = _header(record, src, start)
                elif len(record) != len(header):
                    raise InputError(
                        f"malformed CSV: expected {len(header)} fields, found {len(record)}", path=src.name, line=start
                    )
                else:
                    rows.append([cell if cell != "" else None for cell in record])
                    lines.append(start)
            start = reader.line_num + 1
    if header is None or not rows:
        raise InputError("empty file: no comparisons found (a header and at least one row are needed)", path=src.name)
    frame = pd.DataFrame(rows, columns=header, dtype=object)
    for name in frame.columns:
        if name not in TEXT_COLUMNS and name not in NUMBER_COLUMNS:
            with suppress(ValueError, TypeError):
                frame[name] = pd.to_numeric(frame[name])
    frame["_line"] = lines
    return frame


def _header(record: list[str], src: Source, line: int) -> list[str]:
    """Column names of a CSV header; duplicates are an error."""
    names = [c.strip() for c in record]
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise InputError("duplicate column name in the CSV header", path=src.name, line=line, field=name)
        seen.add(name)
    return names


# -- JSON records ----------------------------------------------------------------------------
def _from_records(src: Source) -> pd.DataFrame:
    """Exact pass over JSON records: type-check the canonical fields, keep the rest."""
    rows = []
    for line, rec in src.records():
        f = Fields(rec, src.name, line)
        row = dict(rec)
        row.pop("_line", None)
        for key, value in rec.items():
            if value is None:
                continue
            if key in REQUIRED:
                f.text(key)
            elif key in TEXT_COLUMNS:
                row[key] = f.ident(key) if not isinstance(value, str) else value
            elif key in NUMBER_COLUMNS and (isinstance(value, bool) or not isinstance(value, (int, float, str))):
                f.error(f"wrong type: expected a number, got {type_and_value(value)}", key)
            elif key in NUMBER_COLUMNS and isinstance(value, int) and abs(value) > 2**53:
                f.error(f"number out of range: {type_and_value(value)}", key)
        row["_line"] = line
        rows.append(row)
    return pd.DataFrame(rows)
