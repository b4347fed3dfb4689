"""Type information for the lazy facade in ``__init__.py`` (same names, real signatures)."""

from __future__ import annotations

from referee.auditing.api import audit as audit
from referee.auditing.report import AuditReport as AuditReport
from referee.io import read as read
from referee.judging.jury import jury as jury
from referee.judging.run import JudgeResult as JudgeResult
from referee.judging.run import JudgeSpec as JudgeSpec
from referee.judging.run import judge as judge
from referee.probing.report import ProbeReport as ProbeReport
from referee.probing.run import probe as probe
from referee.ranking.api import rank as rank
from referee.ranking.leaderboard import Leaderboard as Leaderboard
from referee.ranking.segments import rank_segments as rank_segments
from referee.scoring.api import load_scorer as load_scorer
from referee.scoring.api import score as score
from referee.scoring.bestofn import best_of_n as best_of_n
from referee.scoring.export import export_pairs as export_pairs
from referee.scoring.rm import train_rm as train_rm

__version__: str
__all__ = ["AuditReport", "JudgeResult", "JudgeSpec", "Leaderboard", "ProbeReport", "__version__", "audit", "best_of_n", "export_pairs", "judge", "jury", "load_scorer", "probe", "rank", "rank_segments", "read", "score", "train_rm"]
