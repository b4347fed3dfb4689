"""What a run produces: verdict rows, the output files, the result and its summary.

The output table holds **one row per game** (pairwise: ``GAME_COLUMNS``; pointwise: one row per
output, ``SCORE_COLUMNS``), in **game order** -- the order the game source handed the games out
(:mod:`referee.judging.games`), so the same arguments give the same file whatever order the calls
came back in.  :class:`VerdictWriter` writes each row as soon as every earlier game is settled
(a row is held back while an earlier game is still in flight), as JSON Lines: into the output
itself when it is ``.jsonl``, else into ``<output>.partial.jsonl``, replaced at the end by the
``.csv`` / ``.parquet`` file.  A killed run therefore leaves a prefix of the table in game order,
and its answers are in the cache.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from referee.errors import InputError
from referee.judging.games import Game, Texts
from referee.judging.parse import OK, UNPARSED, Verdict
from referee.judging.types import ChatResult, Usage

if TYPE_CHECKING:  # pandas loads after the first request is out (start-up time)
    import pandas as pd

    from referee.ranking.leaderboard import Leaderboard

GAME_COLUMNS = (
    "prompt_id", "prompt", "response_a", "response_b", "model_a", "model_b", "judge", "winner", "strength",
    "prob_a", "pair_id", "order", "raw_completion", "parse_status", "verdict", "verdict_probs", "template", "error",
)  # fmt: skip
SCORE_COLUMNS = (
    "prompt_id", "prompt", "model", "response", "scorer", "score", "rating", "score_probs", "raw_completion",
    "parse_status", "template", "error",
)  # fmt: skip
#: a verdict row: values in the order of ``GAME_COLUMNS`` or ``SCORE_COLUMNS``
Row = tuple[Any, ...]


# -- rows -----------------------------------------------------------------------------------------------
def game_row(game: Game, texts: Texts, res: ChatResult, v: Verdict, judge: str, template: str | None) -> Row:
    """The row of one pairwise game (texts shared with :class:`Texts`, not copied)."""
    pid = game.prompt_id
    return (
        pid, texts.prompt[pid], texts.response[(pid, game.model_a)], texts.response[(pid, str(game.model_b))],
        game.model_a, game.model_b, judge, v.winner, v.strength, v.prob_a, game.pair_id, game.order, res.text,
        v.status, v.label if v.status == OK else None, json.dumps(v.probs) if v.probs else None, template, res.error,
    )  # fmt: skip


def score_row(game: Game, texts: Texts, res: ChatResult, v: Verdict, judge: str, template: str | None) -> Row:
    """The row of one pointwise game (one model's output on one prompt)."""
    pid, model = game.prompt_id, game.model_a
    return (
        pid, texts.prompt[pid], model, texts.response[(pid, model)], judge, v.score, v.rating,
        json.dumps(v.score_probs) if v.score_probs else None, res.text, v.status, template, res.error,
    )  # fmt: skip


def as_dict(row: Row, mode: str) -> dict[str, Any]:
    return dict(zip(GAME_COLUMNS if mode == "pairwise" else SCORE_COLUMNS, row, strict=True))


# -- the writer ----------------------------------------------------------------------------------------------
class VerdictWriter:
    """Rows in game order: written as JSON Lines as soon as every earlier game is settled, and kept.

    :meth:`settle` takes each game's row (None: the game was not run, a budget stopped the run)
    in any order; :attr:`rows` ends up holding every row in game order (what the result table is
    made of).  Memory: the kept rows (tuples of references into :class:`Texts` plus the raw
    answer) and the rows held back behind a game still in flight.  The file is opened at the
    first row, so a run that fails before any (a wrong endpoint) leaves an existing output
    untouched.
    """

    def __init__(self, output: str | Path | None, mode: str) -> None:
        self.mode = mode
        self.columns = GAME_COLUMNS if mode == "pairwise" else SCORE_COLUMNS
        self._floats = ("strength", "prob_a") if mode == "pairwise" else ("score", "rating")
        self.rows: list[Row] = []
        self.not_run = 0
        self.fh: IO[str] | None = None
        self.path: Path | None = None
        self.output: Path | None = None
        self._held: dict[int, Row | None] = {}
        self._next = 0
        if output is None:
            return
        out = Path(output)
        from referee.io.source import inner_suffix

        if inner_suffix(out) not in (".jsonl", ".ndjson", ".csv", ".parquet"):
            raise InputError("cannot tell the output format from the extension; use .jsonl, .csv or .parquet", path=str(out))
        self.output = out
        self.path = out if self.plain else out.with_name(out.name + ".partial.jsonl")
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise InputError(f"cannot create the output folder: {err.strerror or err}", path=str(out)) from None
        if not os.access(out.parent, os.W_OK) or (out.exists() and not os.access(out, os.W_OK)):
            raise InputError("output is not writable", path=str(out))

    @property
    def plain(self) -> bool:
        """Whether the incremental JSON Lines file is the output itself (``.jsonl`` / ``.ndjson``)."""
        return self.output is not None and self.output.suffix.lower() in (".jsonl", ".ndjson")

    def settle(self, index: int, row: Row | None) -> None:
        """Game ``index`` is done (``row``) or will never run (None); write what is now in order."""
        self._held[index] = row
        wrote = False
        while self._next in self._held:
            r = self._held.pop(self._next)
            self._next += 1
            if r is None:
                self.not_run += 1
                continue
            self.rows.append(r)
            if self.path is not None:
                self._write(r)
                wrote = True
        if wrote and self.fh is not None:
            self.fh.flush()

    @property
    def held(self) -> int:
        """Rows settled but waiting for an earlier game."""
        return len(self._held)

    def _write(self, row: Row) -> None:
        if self.fh is None:
            assert self.path is not None
            try:
                self.fh = open(self.path, "w", encoding="utf-8")  # noqa: SIM115 - held open for the run
            except OSError as err:
                raise InputError(f"cannot write output: {err.strerror or err}", path=str(self.path)) from None
        record = dict(zip(self.columns, row, strict=True))
        for k in self._floats:
            if isinstance(record[k], float) and math.isnan(record[k]):
                record[k] = None  # JSON has no NaN
        self.fh.write(json.dumps(record, ensure_ascii=False, default=_json_default) + "\n")

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()
            self.fh = None

    def table(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame.from_records(self.rows, columns=list(self.columns))

    def finish(self, result: JudgeResult) -> dict[str, str]:
        """The final files: the table (``.jsonl``: the file written so far) and the reconciled pairs."""
        from referee.io import write

        assert self.output is not None
        self.close()
        if self.plain:
            if not self.rows:
                self.output.write_text("", encoding="utf-8")
        else:
            write(result.table, self.output)
            assert self.path is not None
            self.path.unlink(missing_ok=True)
        written = {"table": str(self.output)}
        if result.reconciled is not None and not result.reconciled.empty:
            rpath = reconciled_path(self.output)
            write(result.reconciled, rpath)
            written["reconciled"] = str(rpath)
        return written


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def sidecar_path(output: Path, tag: str) -> Path:
    """A file written beside ``output``: ``verdicts.jsonl`` -> ``verdicts.<tag>.jsonl`` (compression
    suffixes kept).  Judge runs write ``reconciled``; rubric runs ``criteria``; panels ``jury``."""
    name = output.name
    for suffix in (".jsonl", ".ndjson", ".csv", ".parquet"):
        at = name.lower().rfind(suffix)
        if at > 0:
            return output.with_name(f"{name[:at]}.{tag}{name[at:]}")
    return output.with_name(f"{name}.{tag}")


def reconciled_path(output: Path) -> Path:
    """``verdicts.jsonl`` -> ``verdicts.reconciled.jsonl`` (compression suffixes kept)."""
    return sidecar_path(output, "reconciled")


# -- the result --------------------------------------------------------------------------------------------------
class JudgeResult:
    """What a run produced: the games (or scores) table, the reconciled pairs, usage and metadata.

    ``table`` is built from the verdict rows the first time it is read (a run whose caller only
    wants the files and the summary, like ``referee judge`` without ``--rank``, never builds it).
    """

    def __init__(
        self, table: pd.DataFrame | None, usage: Usage, meta: dict[str, Any], reconciled: pd.DataFrame | None = None,
        *, rows: list[Row] | None = None,
    ) -> None:  # fmt: skip
        self._table = table
        self._rows = rows
        self.usage = usage
        self.meta = meta
        self.reconciled = reconciled

    @property
    def table(self) -> pd.DataFrame:
        """One row per game (pairwise: ``GAME_COLUMNS``) or per output (pointwise: ``SCORE_COLUMNS``), in game order."""
        if self._table is None:
            import pandas as pd

            columns = GAME_COLUMNS if self.meta.get("mode") == "pairwise" else SCORE_COLUMNS
            self._table = pd.DataFrame.from_records(self._rows or [], columns=list(columns))
            self._rows = None
        return self._table

    def __repr__(self) -> str:
        return f"JudgeResult(mode={self.meta.get('mode')!r}, usage={self.usage!r})"

    def comparisons(self) -> pd.DataFrame:
        """The games with a verdict, as a canonical comparisons table (what ``referee rank`` ranks)."""
        if self.meta.get("mode") != "pairwise":
            raise InputError("comparisons exist only in pairwise mode", field="mode")
        ok = self.table[self.table["parse_status"] == OK]
        if ok.empty:
            raise InputError("no judge verdict parsed: nothing to rank", field="parse_status")
        return ok.reset_index(drop=True)

    def rank(self, **options: Any) -> Leaderboard:
        """The games ranked by :func:`referee.rank` (``options`` passed on); what ``referee judge --rank`` prints."""
        from referee.ranking.api import rank

        return rank(self.comparisons(), **options)

    def scores(self) -> pd.DataFrame:
        """Pointwise: per model the mean score of its parsed rows, their number and the unparsed ones.

        Columns ``model, mean_score, n, unparsed`` (``mean_score`` NaN when nothing parsed), one
        row per model in order of first appearance.
        """
        import pandas as pd

        if self.meta.get("mode") != "pointwise":
            raise InputError("scores exist only in pointwise mode", field="mode")
        t = self.table
        rows = []
        for model, group in t.groupby("model", sort=False):
            ok = group.loc[group["parse_status"] == OK, "score"].astype(float)
            rows.append({"model": str(model), "mean_score": float(ok.mean()) if len(ok) else math.nan, "n": len(ok),
                         "unparsed": len(group) - len(ok)})  # fmt: skip
        return pd.DataFrame(rows, columns=["model", "mean_score", "n", "unparsed"])

    def summary(self) -> str:
        """One paragraph: calls, cache hits, retries, failures, unparsed, tokens, cost, consistency."""
        u, m = self.usage, self.meta
        parts = [
            f"{m.get('n_requests', 0)} judge requests: {u.calls} calls, {u.cache_hits} cache hits, {u.retries} retries, "
            f"{u.failures} failed, {u.unparsed} unparsed",
            f"tokens {u.prompt_tokens:,} in / {u.completion_tokens:,} out" + (" (estimated)" if u.extra.get("estimated_tokens") else ""),
            f"cost ${u.cost:.4f}",
        ]
        if u.stopped_by:
            parts.append(f"stopped by {u.stopped_by}: {m.get('not_run', 0)} requests not run")
        if m.get("missing_outputs"):
            parts.append(f"{m['missing_outputs']} missing outputs skipped")
        if m.get("position_consistency") is not None:
            parts.append(f"position consistency {m['position_consistency']:.1%} of {m['pairs_both_orders']} pairs")
        if m.get("plan_progress"):  # a planned run: budget spent, leader, widest adjacent interval, why it stopped
            parts.append(f"plan {m['plan_progress']}")
        return "; ".join(parts)


def build_result(writer: VerdictWriter, usage: Usage, meta: dict[str, Any], *, rule: str, expected: int) -> JudgeResult:
    """The result of a finished run: the reconciled pairs, the statistics (``position_consistency``,
    ``first_position_win_rate``, usage) in ``meta`` and the files written -- all from the verdict
    rows, the table itself only when it must be written (``.csv`` / ``.parquet``) or is read."""

    from referee.judging.reconcile import reconcile_games
    from referee.judging.templates import MODEL_A, MODEL_B

    rows = writer.rows
    status = writer.columns.index("parse_status")
    usage.unparsed = sum(r[status] == UNPARSED for r in rows)
    reconciled = None
    if meta["mode"] == "pairwise" and rows:
        keep = ("pair_id", "prompt_id", "model_a", "model_b", "judge", "order", "winner", "strength", "prob_a", "parse_status")
        at = [GAME_COLUMNS.index(k) for k in keep]
        reconciled = reconcile_games([dict(zip(keep, (r[i] for i in at), strict=True)) for r in rows], rule, expected=expected)
        both = reconciled["agree"].notna()
        meta["pairs_both_orders"] = int(both.sum())
        meta["position_consistency"] = float(reconciled.loc[both, "agree"].astype(bool).mean()) if both.any() else None
        winner = GAME_COLUMNS.index("winner")
        decisive = [r[winner] for r in rows if r[status] == OK and r[winner] in (MODEL_A, MODEL_B)]
        meta["first_position_win_rate"] = sum(w == MODEL_A for w in decisive) / len(decisive) if decisive else None
    meta["usage"] = usage.as_dict()
    result = JudgeResult(None, usage, meta, reconciled, rows=rows)
    if writer.output is not None:
        meta["outputs"] = writer.finish(result)
    return result

__all__ = [
    "GAME_COLUMNS", "SCORE_COLUMNS", "JudgeResult", "Row", "VerdictWriter", "build_result", "game_row", "reconciled_path",
    "score_row", "sidecar_path",
]  # fmt: skip
