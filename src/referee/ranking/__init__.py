"""Ranking models: Bradley–Terry and friends, fitted on aggregated cells.

The entry point is :func:`referee.ranking.api.rank`, public as ``referee.rank(...)``.
"""
