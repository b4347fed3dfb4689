"""The plain data the renderers in :mod:`referee.report` read, as structural types.

Renderers never import the result classes (:class:`referee.ranking.leaderboard.Leaderboard`,
:class:`referee.ranking.segments.SegmentedLeaderboard`, :class:`referee.auditing.report.AuditReport`):
those classes import the renderers, so the dependency runs one way (``rank`` / ``audit`` →
``report``).  Anything with these attributes renders — the result classes match them
structurally, and so would a hand-built object in a test.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import pandas as pd


class BoardData(Protocol):
    """A leaderboard: ``table`` (one row per model, best first, with the JSON fields of
    :mod:`referee.ranking.leaderboard`), ``meta`` (how it was fitted), ``win_prob`` (``"p"``: the
    models × models win-probability matrix, when computed) and ``truth`` (known true ratings
    by model, simulations only)."""

    @property
    def table(self) -> pd.DataFrame: ...

    @property
    def meta(self) -> dict[str, Any]: ...

    @property
    def win_prob(self) -> dict[str, pd.DataFrame]: ...

    @property
    def truth(self) -> pd.Series | None: ...


class SegmentedData(Protocol):
    """Leaderboards per segment: ``overall`` and ``segments`` (label → board), the
    heterogeneity ``test``, the ``where`` filters and ``notes``; ``wide()`` is the models ×
    segments table with columns ``(segment, field)``, the overall board's block first."""

    @property
    def by(self) -> str: ...

    @property
    def overall(self) -> BoardData: ...

    @property
    def segments(self) -> Mapping[str, BoardData]: ...

    @property
    def test(self) -> dict[str, Any]: ...

    @property
    def where(self) -> Sequence[tuple[str, str]]: ...

    @property
    def notes(self) -> list[str]: ...

    def wide(self) -> pd.DataFrame: ...


class AuditData(Protocol):
    """An audit: per-judge metrics (``judges``: name → contract metrics, ``flags`` and
    ``details``), ``meta``, the cross-judge ``agreement_matrix``, every ``(judge, flag)`` in
    ``flags``, and ``metric(judge, name)`` (a contract name or a dotted path under details)."""

    @property
    def judges(self) -> dict[str, dict[str, Any]]: ...

    @property
    def meta(self) -> dict[str, Any]: ...

    @property
    def agreement_matrix(self) -> dict[str, Any]: ...

    @property
    def flags(self) -> list[tuple[str, dict[str, Any]]]: ...

    def metric(self, judge: str, name: str) -> dict[str, Any] | None: ...
