"""Ranking models: Bradley–Terry and friends, fitted on aggregated cells.

``referee.rank(...)`` calls :func:`referee.rank.api.rank`.
"""

from referee._callable import make_callable

make_callable(__name__, "referee.rank.api:rank")
