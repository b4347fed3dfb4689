"""Planning which comparisons to run: pairing model outputs (budget-aware planning comes later)."""

from referee.planning.pairs import (
    PAIR_COLUMNS,
    as_frame,
    as_tuples,
    first_shown,
    pair_id,
    pairs_from_file,
    pairs_round_robin,
    pairs_vs_baseline,
    plan_pairs,
)

__all__ = [
    "PAIR_COLUMNS",
    "as_frame",
    "as_tuples",
    "first_shown",
    "pair_id",
    "pairs_from_file",
    "pairs_round_robin",
    "pairs_vs_baseline",
    "plan_pairs",
]
