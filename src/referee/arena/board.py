"""The live leaderboard: the rank engine run on the stored votes, off the request path.

The server recomputes on a short interval when votes have arrived (``--refresh``), in a
worker process (so the fit never holds the server's GIL), and serves the cached JSON — the same contract as ``referee rank -o
board.json``: Bradley–Terry (ties as half a win) with sandwich 95% CIs and rank intervals,
and a style-controlled variant (length in whitespace tokens and markdown counts as
covariates, :mod:`referee.ranking.style`).  Votes on hidden models are left out, and with the
identity filter on, so are votes on battles where a response names a model.

The export (:func:`export_chunks`) turns the same vote rows into JSONL or CSV one batch at a
time, so the server streams it with memory independent of the number of votes.  CSV cells
that a spreadsheet would run as a formula are neutralised (:func:`neutralise`).
"""

from __future__ import annotations

import csv
import io
import json
import math
import time
from collections.abc import Generator, Iterable, Iterator
from typing import Any

import numpy as np
import pandas as pd

from referee.arena.store import Catalogue, Store
from referee.errors import InputError

STYLE_FEATURES = ("length", "markdown")
SCALE = 400 / math.log(10)


def style_counts(catalogue: Catalogue) -> dict[int, tuple[int, int, int, int]]:
    """Per response id: (tokens, headers, lists, bold)."""
    from referee.ranking.style import text_counts

    ids = [rid for rid, _, _ in catalogue.responses.values()]
    texts = [t for _, t, _ in catalogue.responses.values()]
    if not ids:
        return {}
    c = text_counts(pd.Series(texts, dtype=object))
    arr = c[["tokens", "headers", "lists", "bold"]].to_numpy(dtype=np.int64)
    return {rid: tuple(int(x) for x in row) for rid, row in zip(ids, arr, strict=True)}  # type: ignore[misc]


def votes_frame(
    rows: list[tuple[Any, ...]], catalogue: Catalogue, *, texts: bool = False, identity_filter: bool = False,
    include_hidden: bool = True, counts: dict[int, tuple[int, int, int, int]] | None = None,
) -> pd.DataFrame:
    """Canonical comparisons from :meth:`Store.vote_rows` (``model_a`` is the model shown as A)."""
    out: dict[str, list[Any]] = {k: [] for k in ("battle_id", "voter", "prompt_id", "model_a", "model_b", "winner", "tstamp")}
    extra: dict[str, list[Any]] = {}
    if texts:
        extra = {"prompt": [], "response_a": [], "response_b": [], "category": []}
    feats = ("length", "headers", "lists", "bold")
    if counts is not None:
        for f in feats:
            extra[f + "_a"], extra[f + "_b"] = [], []
    for pub, voter, p, ma, mb, winner, ts in rows:
        if not include_hidden and (ma in catalogue.hidden or mb in catalogue.hidden):
            continue
        ra, rb = catalogue.responses.get((p, ma)), catalogue.responses.get((p, mb))
        if identity_filter and ((ra and ra[2]) or (rb and rb[2])):
            continue
        key, ptext, category = catalogue.prompts[p]
        for k, val in zip(out, (pub, voter, key, catalogue.models[ma], catalogue.models[mb], winner, ts), strict=True):
            out[k].append(val)
        if texts:
            extra["prompt"].append(ptext)
            extra["response_a"].append(ra[1] if ra else None)
            extra["response_b"].append(rb[1] if rb else None)
            extra["category"].append(category)
        if counts is not None:
            ca = counts.get(ra[0]) if ra else None
            cb = counts.get(rb[0]) if rb else None
            for i, f in enumerate(feats):
                extra[f + "_a"].append(ca[i] if ca else 0)
                extra[f + "_b"].append(cb[i] if cb else 0)
    df = pd.DataFrame({**out, **extra})
    df["tstamp"] = df["tstamp"].astype(float)
    return df


# -- the export ----------------------------------------------------------------------------------------
EXPORT_COLUMNS = ("battle_id", "voter", "prompt_id", "model_a", "model_b", "winner", "tstamp",
                  "prompt", "response_a", "response_b", "category")
EXPORT_FORMATS = ("jsonl", "csv")
#: Characters that make a spreadsheet read a cell as a formula (OWASP, "CSV Injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def export_records(rows: Iterable[tuple[Any, ...]], catalogue: Catalogue, *,
                   identity_filter: bool = False) -> Iterator[tuple[Any, ...]]:
    """Vote rows (:meth:`Store.iter_vote_rows`) as tuples in :data:`EXPORT_COLUMNS` order: the rows
    of :func:`votes_frame` with ``texts=True``, hidden models included."""
    prompts, responses, models = catalogue.prompts, catalogue.responses, catalogue.models
    for pub, voter, p, ma, mb, winner, ts in rows:
        ra, rb = responses.get((p, ma)), responses.get((p, mb))
        if identity_filter and ((ra and ra[2]) or (rb and rb[2])):
            continue
        key, ptext, category = prompts[p]
        yield (pub, voter, key, models[ma], models[mb], winner, float(ts), ptext,
               ra[1] if ra else None, rb[1] if rb else None, category)


def neutralise(cell: str) -> str:
    """A CSV cell a spreadsheet shows as text: one starting with ``= + - @``, tab or CR gets a leading
    ``'`` (OWASP's advice for CSV injection: ``=HYPERLINK(...)`` becomes the text ``'=HYPERLINK(...)``)."""
    return "'" + cell if cell.startswith(FORMULA_START) else cell


def _jsonl(records: list[tuple[Any, ...]]) -> bytes:
    lines = [json.dumps(dict(zip(EXPORT_COLUMNS, r, strict=True)), ensure_ascii=False, allow_nan=False) for r in records]
    # a lone surrogate (never valid UTF-8) becomes the JSON escape \udXXX rather than an error mid-stream
    return ("\n".join(lines) + "\n").encode("utf-8", "backslashreplace") if lines else b""


def _csv(records: list[tuple[Any, ...]], header: bool) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    if header:
        w.writerow(EXPORT_COLUMNS)
    w.writerows(tuple(neutralise(c) if isinstance(c, str) else ("" if c is None else c) for c in r) for r in records)
    return buf.getvalue().encode("utf-8", "backslashreplace")


def export_chunks(batches: Iterable[list[tuple[Any, ...]]], catalogue: Catalogue, *, fmt: str = "jsonl",
                  identity_filter: bool = False) -> Generator[bytes, None, None]:
    """The export as bytes, one chunk per batch of vote rows (JSONL: one comparison per line; CSV:
    a header line, then formula-neutralised cells).  A CSV export always has its header."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"`format` must be one of {', '.join(EXPORT_FORMATS)}, not {fmt!r}")
    first = True
    for batch in batches:
        records = list(export_records(batch, catalogue, identity_filter=identity_filter))
        chunk = _csv(records, header=first) if fmt == "csv" else _jsonl(records)
        first = False
        if chunk:
            yield chunk
    if first and fmt == "csv":
        yield _csv([], header=True)


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells are :func:`neutralise`-d (for writing it as CSV)."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col].dtype):
            out[col] = out[col].map(lambda v: neutralise(v) if isinstance(v, str) else v)
    return out


def compute(frame: pd.DataFrame, style: bool) -> dict[str, Any]:
    """One leaderboard as the JSON contract's dict; a note instead of models when it can't be fit yet."""
    from referee.ranking.api import rank

    base_meta = {"n_comparisons": len(frame), "style_control": style, "computed_at": time.time()}
    if frame.empty or frame[["model_a", "model_b"]].stack().nunique() < 2:
        return {"models": [], "meta": {**base_meta, "note": "not enough votes yet"}}
    try:
        board = rank(frame, model="bt", ci="sandwich", style=list(STYLE_FEATURES) if style else None)
    except InputError as e:  # a disconnected graph, or a style fit without a covariance on a few votes
        return {"models": [], "meta": {**base_meta, "note": f"not enough votes yet: {e.message}"}}
    d = board.to_dict()
    d["meta"].update({"style_control": style, "computed_at": base_meta["computed_at"]})
    return d


def ratings_of(board: dict[str, Any]) -> dict[str, tuple[float, float]]:
    """Rating and SE (Elo scale) per model name, from a board's JSON dict."""
    out = {}
    for row in board.get("models", []):
        lo, hi = row.get("ci_low"), row.get("ci_high")
        se = (hi - lo) / (2 * 1.959964) if lo is not None and hi is not None else SCALE
        out[row["model"]] = (float(row["rating"]), float(se))
    return out


def fit_boards(store: Store, catalogue: Catalogue, counts: dict[int, tuple[int, int, int, int]],
               identity_filter: bool) -> tuple[int, dict[bool, bytes], dict[str, tuple[float, float]], float]:
    """``(votes seen, JSON per style flag, ratings, seconds)`` for the votes stored now."""
    t0 = time.perf_counter()
    rows = store.vote_rows()
    frame = votes_frame(rows, catalogue, identity_filter=identity_filter, include_hidden=False, counts=counts)
    boards = {style: compute(frame, style) for style in (False, True)}
    seconds = time.perf_counter() - t0
    out = {}
    for style, board in boards.items():
        board["meta"]["compute_seconds"] = round(seconds, 3)
        out[style] = json.dumps(board, allow_nan=False, ensure_ascii=False).encode("utf-8")
    return len(rows), out, ratings_of(boards[False]), seconds


# -- the refit worker process ----------------------------------------------------------------------
# Refits run in a separate process so that pandas and the fit (seconds with 100k votes) never
# hold the server's GIL: vote latency stays flat while the leaderboard is recomputed.
_WORKER: dict[str, Any] = {}


def _watch_parent(parent: int) -> None:
    """Exit when the server process is gone (it may have been SIGKILLed)."""
    import os
    import threading

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def worker_refit(
    url: str, catalogue_version: int, identity_filter: bool
) -> tuple[int, dict[bool, bytes], dict[str, tuple[float, float]], float]:
    """:func:`fit_boards` in the worker process, with its own connection and catalogue cache."""
    if _WORKER.get("url") != url:
        if "store" in _WORKER:
            _WORKER["store"].close()
        _WORKER.clear()
        _WORKER.update(url=url, store=Store(url, create=False))
    store: Store = _WORKER["store"]
    if _WORKER.get("version") != catalogue_version:
        cat = store.catalogue()
        _WORKER.update(version=catalogue_version, catalogue=cat, counts=style_counts(cat))
    return fit_boards(store, _WORKER["catalogue"], _WORKER["counts"], identity_filter)


class LiveBoard:
    """Cached leaderboards (plain and style-controlled), recomputed when the vote count changes,
    by one spawned worker process (:func:`worker_refit`)."""

    def __init__(self, store: Store, *, identity_filter: bool = False) -> None:
        import multiprocessing
        import os
        from concurrent.futures import ProcessPoolExecutor

        self.store = store
        self.identity_filter = identity_filter
        self.catalogue_version = 0
        self.cache: dict[bool, bytes] = {}
        self.ratings: dict[str, tuple[float, float]] = {}
        self.version = -1
        self.executor = ProcessPoolExecutor(
            1, mp_context=multiprocessing.get_context("spawn"), initializer=_watch_parent, initargs=(os.getpid(),)
        )

    def invalidate(self) -> None:
        """The catalogue changed (models hidden or shown): recompute on the next refresh."""
        self.catalogue_version += 1
        self.version = -1

    async def refresh(self, force: bool = False) -> bool:
        """Recompute if votes arrived since the last run (or ``force``); returns whether it did.

        The count runs in a thread, the refit in the worker process.
        """
        import asyncio

        loop = asyncio.get_running_loop()
        n = await loop.run_in_executor(None, self.store.vote_count)
        if not force and n == self.version:
            return False
        version = self.catalogue_version
        seen, cache, ratings, _ = await loop.run_in_executor(
            self.executor, worker_refit, self.store.url, version, self.identity_filter
        )
        if version == self.catalogue_version:  # not hidden/shown meanwhile
            self.cache, self.ratings, self.version = cache, ratings, seen
        return True

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)
