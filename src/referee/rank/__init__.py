"""Ranking models: Bradley–Terry and friends, fitted on aggregated cells."""
