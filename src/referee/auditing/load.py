"""Inputs of an audit: comparisons tables (verdicts, gold) and scores tables."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from referee.errors import DATAFRAME, InputError

#: judges whose rows are gold labels when no separate gold table is given
GOLD_JUDGES: tuple[str, ...] = ("gold", "human")

Data = pd.DataFrame | str | Path | Iterable[str | Path]


def input_names(data: Any) -> list[str]:
    """How an input (a DataFrame, a path or paths) is named in the report's meta."""
    if data is None:
        return []
    if isinstance(data, pd.DataFrame):
        return [f"<table: {len(data)} rows>"]
    if isinstance(data, str | Path):
        return [str(data)]
    return [str(p) for p in data]


def load_comparisons(data: Data, what: str = "verdicts") -> pd.DataFrame:
    """A validated comparisons table from a DataFrame, a path or paths: :func:`referee.io.table`,
    which validates a DataFrame exactly as a file's rows (errors name it ``<DataFrame>``, or
    ``<gold DataFrame>`` for ``what="gold"``).

    Rows the judge runner marks as not parsed (``parse_status`` other than ``ok``) are dropped
    and counted in ``attrs["dropped"]``; ``attrs["mapped"]`` counts the label mappings applied
    (MT-Bench's ``tie (inconsistent)`` → ``tie``).
    """
    from referee.io import table

    return table(data, source=DATAFRAME if what == "verdicts" else f"<{what} DataFrame>")


def split_gold(df: pd.DataFrame, gold_judges: Sequence[str] = GOLD_JUDGES) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """(verdicts, gold): rows whose ``judge`` is one of ``gold_judges`` (case-insensitive) are gold."""
    if "judge" not in df.columns:
        return df, None
    names = {g.lower() for g in gold_judges}
    is_gold = df["judge"].fillna("").astype(str).str.lower().isin(names).to_numpy()
    if not is_gold.any():
        return df, None
    return df[~is_gold].reset_index(drop=True), df[is_gold].reset_index(drop=True)


SCORE_ALIASES = {"scorer": ("scorer", "judge", "reward_model", "rm"), "score": ("score", "reward", "rating")}


def load_scores(data: Any) -> pd.DataFrame:
    """A scores table: ``prompt_id``, ``model`` and/or ``response``, ``scorer``, ``score`` (numeric).

    Accepts a DataFrame or JSON/JSONL/CSV/Parquet files (compressed or not).  Rows the
    judge runner marks as not parsed, or without a score, are dropped and counted.
    """
    if isinstance(data, pd.DataFrame):
        df = data.copy()
        source = "<scores>"
        files = np.full(len(df), source, dtype=object)
        lines = np.arange(1, len(df) + 1)
    else:
        paths = [data] if isinstance(data, str | Path) else list(data)
        frames = [_read_table(Path(p)) for p in paths]
        files = np.concatenate([np.full(len(f), str(p), dtype=object) for f, p in zip(frames, paths, strict=True)])
        lines = np.concatenate([np.asarray(f.attrs.pop("lines", np.arange(1, len(f) + 1)), dtype=np.int64)
                                for f in frames])
        df = pd.concat(frames, ignore_index=True)
        source = ", ".join(str(p) for p in paths)
    for canon, names in SCORE_ALIASES.items():
        if canon not in df.columns:
            for alt in names[1:]:
                if alt in df.columns:
                    df = df.rename(columns={alt: canon})
                    break
    if "score" not in df.columns:
        raise InputError(f"a scores table needs a 'score' column; columns present: {', '.join(map(str, df.columns))}",
                         path=source, field="score")
    if "prompt_id" not in df.columns:
        raise InputError("a scores table needs 'prompt_id' (which prompt each score belongs to)", path=source,
                         field="prompt_id")
    if "model" not in df.columns and "response" not in df.columns:
        raise InputError("a scores table needs 'model' or 'response' (which answer was scored)", path=source,
                         field="model")
    dropped: dict[str, int] = {}
    if "parse_status" in df.columns:
        unparsed = (df["parse_status"].fillna("ok").astype(str) != "ok").to_numpy()
        if unparsed.any():
            dropped["unparsed_score"] = int(unparsed.sum())
            df, files, lines = df[~unparsed], files[~unparsed], lines[~unparsed]
    score = pd.to_numeric(df["score"], errors="coerce")
    bad = score.isna().to_numpy() & df["score"].notna().to_numpy()
    if bad.any():
        at = int(np.flatnonzero(bad)[0])
        raise InputError(f"not a number: {df['score'][bad].iloc[0]!r}", path=str(files[at]), line=int(lines[at]),
                         field="score")
    missing = score.isna().to_numpy()
    if missing.any():
        dropped["missing_score"] = int(missing.sum())
    df = df.assign(score=score.astype(float))[~missing]
    files, lines = files[~missing], lines[~missing]
    if "scorer" not in df.columns:
        df = df.assign(scorer="scorer")
    for col in ("prompt_id", "model", "response", "scorer"):
        if col in df.columns:
            df[col] = df[col].where(df[col].isna(), df[col].astype(str))
    if len(df) == 0:
        raise InputError("no scores found", path=source)
    df = df.reset_index(drop=True)
    df.attrs = {"dropped": dropped, "files": files, "lines": lines}
    return df


def is_scores_table(data: Any) -> bool:
    """Does the input look like a scores table (a score column, no ``winner``/``model_a``)?  Reads only
    the first record of the first file (or the DataFrame's columns); False when it cannot tell."""
    if data is None:
        return False
    if isinstance(data, pd.DataFrame):
        cols = set(map(str, data.columns))
    else:
        paths = [data] if isinstance(data, str | Path) else list(data)
        if not paths:
            return False
        try:
            from referee.io.source import Source

            src = Source(Path(paths[0]))
            if src.kind in ("parquet", "csv"):
                cols = set(map(str, _read_table(Path(paths[0])).columns))
            else:
                cols = set(src.first_record())
        except Exception:  # an unreadable file is reported by the comparisons reader
            return False
    scored = any(c in cols for c in SCORE_ALIASES["score"])
    return scored and not cols & {"winner", "model_a", "response_a", "chosen", "rejected"}


def _read_table(path: Path) -> pd.DataFrame:
    from referee.io.source import Source

    src = Source(path)
    if src.kind == "parquet":
        import pyarrow.parquet as pq

        frame: pd.DataFrame = pq.read_table(src.arrow_input()).to_pandas()
        return frame
    if src.kind == "csv":
        import io

        sep = "\t" if src.suffix == ".tsv" else ","
        frame = pd.read_csv(io.StringIO(src.text), sep=sep)
        frame.attrs["lines"] = np.arange(2, len(frame) + 2)  # line 1 is the header
        return frame
    recs = src.records()
    frame = pd.DataFrame([rec for _, rec in recs])
    frame.attrs["lines"] = np.array([line for line, _ in recs], dtype=np.int64)
    return frame
