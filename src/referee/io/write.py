"""Writers for the canonical comparisons table: JSON Lines, CSV (optionally compressed) or Parquet."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pandas as pd

from referee.errors import InputError
from referee.io.source import SUFFIXES, inner_suffix

Compression = Literal["gzip", "xz", "bz2", "zstd"]
PANDAS_COMPRESSION: dict[str, Compression] = {"gzip": "gzip", "xz": "xz", "bz2": "bz2", "zstd": "zstd"}


def to_jsonl(df: pd.DataFrame) -> str:
    """``df`` as JSON Lines text, as :func:`write` writes a ``.jsonl`` file ("" for no rows)."""
    return df.to_json(orient="records", lines=True, force_ascii=False, double_precision=15) if len(df) else ""


def write_atomic(df: pd.DataFrame, path: str | Path, what: str = "output") -> Path:
    """:func:`write` to a temporary file beside ``path``, then rename it over ``path``: a reader
    never sees a half-written file, and a failure leaves none behind (``InputError`` naming ``what``)."""
    import os

    p = Path(path)
    tmp = p.with_name(f".{os.getpid()}.{p.name}")
    try:
        write(df, tmp)
        os.replace(tmp, p)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise InputError(f"cannot write {what}: {err.strerror or err}", path=str(p)) from None
    return p


def write(df: pd.DataFrame, path: str | Path) -> Path:
    """Write ``df`` to ``path``; the format follows the extension.

    ``.jsonl`` / ``.csv`` (each optionally ``.gz``, ``.xz``, ``.bz2``) or ``.parquet``.
    Internal columns (``_line``) are left out.  Returns the path written.
    """
    p = Path(path)
    kind = inner_suffix(p)
    last = p.suffix.lower()
    compression = PANDAS_COMPRESSION[SUFFIXES[last]] if last in SUFFIXES else None
    out = df.drop(columns=[c for c in df.columns if str(c).startswith("_line")])
    if kind in (".jsonl", ".ndjson"):
        out.to_json(p, orient="records", lines=True, force_ascii=False, double_precision=15, compression=compression)
    elif kind == ".csv":
        out.to_csv(p, index=False, compression=compression)
    elif kind == ".parquet" and compression is None:
        out.to_parquet(p, index=False)
    else:
        raise InputError(
            "cannot tell the output format from the extension; use .jsonl, .csv (optionally .gz/.xz/.bz2) or .parquet",
            path=str(p),
        )
    return p
