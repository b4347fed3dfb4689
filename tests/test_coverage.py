"""The intervals ``referee.rank`` prints must cover the truth at their nominal rate.

Everything here goes through the public API (``referee.rank(df, ...).table``) on data
simulated from the very model each estimator fits (:mod:`referee.sim`), so the truth is
well defined:

* mean-centred ratings estimate ``1000 + (400/ln 10)(θ_i − mean θ)``;
* ``anchor="model-000=1000"`` ratings estimate ``1000 + (400/ln 10)(θ_i − θ_anchor)``, and the
  anchor's own interval is exactly ``[1000, 1000]`` (it is excluded from the coverage count).

The coverage matrix: every scenario of :data:`referee.sim.SCENARIOS` (BT ties ½ / dropped,
Davidson, Rao–Kupper, ordinal graded, first-position term, style control, row weights, soft
verdicts, per-prompt random effects, tiny arenas) × every interval kind it should get right
(sandwich, cluster-robust sandwich, bootstrap, clustered bootstrap — clustered by
``prompt_id``) × both centrings, on ``ARENAS`` (100) seeded arenas each.  Coverage is the
fraction of model intervals covering the truth, pooled over models and arenas, and must lie
in 92–98% (tiny arenas: ≥ 90%, and no call may raise).  With 100 arenas × 8 models = 800
intervals the binomial SE at 95% is 0.77 points; intervals of one arena are correlated, so
the failure message gives the SE that treats arenas as the units (usually 0.8–1.2 points).
The seeds are fixed, so a result is reproducible, not flaky.

On prompt-correlated data only the clustered kinds are asserted; ``bench/coverage.py``
prints the full matrix (unclustered kinds there undercover, as they should).

Environment: ``REFEREE_COVERAGE_ARENAS`` / ``_ROUNDS`` / ``_JOBS`` override the number of
arenas, bootstrap rounds and worker processes; ``REFEREE_COVERAGE_RECORDS=path.csv`` writes
the measured matrix (one row per cell, with seconds spent).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import Executor

import numpy as np
import pandas as pd
import pytest

import referee
from referee.sim import (
    CENTRINGS,
    SCENARIOS,
    arena_records,
    chain,
    coverage_records,
    k_to_zero,
    outcome_probabilities,
    process_pool,
    simulate,
    summarise,
)

ARENAS = int(os.environ.get("REFEREE_COVERAGE_ARENAS", "100"))
ROUNDS = int(os.environ.get("REFEREE_COVERAGE_ROUNDS", "200"))
JOBS = int(os.environ.get("REFEREE_COVERAGE_JOBS", str(min(4, os.cpu_count() or 1))))
SMALL_ROUNDS = 200

_results: dict[str, tuple[pd.DataFrame, pd.DataFrame]] = {}


@pytest.fixture(scope="module")
def pool() -> Iterator[Executor | None]:
    with process_pool(JOBS) as p:
        yield p
    out = os.environ.get("REFEREE_COVERAGE_RECORDS")  # optional CSV of every measured cell
    if out and _results:
        pd.concat([summary for _, summary in _results.values()]).to_csv(out, index=False)


def _scenario(name: str, pool: Executor | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(records, summary) of one scenario, computed once per session."""
    if name not in _results:
        records = coverage_records([name], ARENAS, rounds=ROUNDS, pool=pool)
        _results[name] = (records, summarise(records))
    return _results[name]


CELLS = [(sc, kind, c) for sc, spec in SCENARIOS.items() for kind in spec.honest for c in CENTRINGS]


@pytest.mark.slow
@pytest.mark.parametrize(("scenario", "kind", "centring"), CELLS, ids=["/".join(c) for c in CELLS])
def test_interval_coverage(scenario: str, kind: str, centring: str, pool: Executor | None) -> None:
    _, summary = _scenario(scenario, pool)
    row = summary[(summary.kind == kind) & (summary.centring == centring)].iloc[0]
    where = f"{scenario}/{kind}/{centring} ({SCENARIOS[scenario].description})"
    assert row.errors == 0, f"{where}: referee.rank raised in {row.errors}/{row.arenas} arenas: {row.first_error}"
    assert row.cluster_ignored == 0, f"{where}: board.meta['cluster'] is empty although a cluster was requested"
    if centring == "anchored":
        assert row.anchor_not_exact == 0, f"{where}: the anchor's interval is not [1000, 1000] in {row.anchor_not_exact} arenas"
    lo, hi = SCENARIOS[scenario].band
    assert lo <= row.coverage <= hi, (
        f"{where}: coverage {row.coverage:.3f} ± {row.se:.3f} (MC SE, arenas as units; binomial {row.se_binomial:.3f}) "
        f"over {row.intervals} intervals in {row.arenas} arenas, outside [{lo}, {hi}]; mean width {row.width:.1f} points"
    )


@pytest.mark.slow
def test_tiny_arenas_include_models_that_never_lose(pool: Executor | None) -> None:
    """The tiny scenario must exercise separation (some model never won or never lost)."""
    records, _ = _scenario("tiny", pool)
    per_arena = records.drop_duplicates("seed")
    assert per_arena["degenerate"].mean() >= 0.1, per_arena["degenerate"].mean()
    assert per_arena["models"].max() <= 6 and per_arena["battles"].max() <= 60


# ---------------------------------------------------------------------------- exact small cases
def _table(df: pd.DataFrame, ci: str, anchor: str | None = None) -> pd.DataFrame:
    board = referee.rank(df, ci=ci, rounds=SMALL_ROUNDS, seed=0, anchor=anchor)
    tab = board.table.set_index("model")
    assert np.isfinite(tab[["rating", "ci_low", "ci_high"]].to_numpy(dtype=float)).all(), tab
    return tab


def _overlap(tab: pd.DataFrame, x: str, y: str) -> bool:
    return bool(tab.loc[x, "ci_low"] <= tab.loc[y, "ci_high"] and tab.loc[y, "ci_low"] <= tab.loc[x, "ci_high"])


def _contains(tab: pd.DataFrame, model: str, value: float = 1000.0) -> bool:
    return bool(tab.loc[model, "ci_low"] <= value <= tab.loc[model, "ci_high"])


def _show(tab: pd.DataFrame) -> str:
    return tab[["rating", "ci_low", "ci_high"]].round(1).to_string()


@pytest.mark.parametrize("ci", ["sandwich", "bootstrap"])
@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_k_to_zero_is_not_significant(k: int, ci: str) -> None:
    """A k–0 record with k ≤ 5 has exact two-sided binomial p = 2·0.5^k ≥ 0.0625: the two
    intervals must overlap, and anchored on the loser the winner's interval must hold 1000."""
    df = k_to_zero(k)
    tab = _table(df, ci)
    assert tab.loc["A", "rating"] > tab.loc["B", "rating"]
    overlap = _overlap(tab, "A", "B")
    assert overlap, _show(tab)
    anc = _table(df, ci, anchor="B=1000")
    assert anc.loc["B", "ci_low"] == pytest.approx(1000.0, abs=1e-6)
    assert anc.loc["B", "ci_high"] == pytest.approx(1000.0, abs=1e-6)
    holds = _contains(anc, "A")
    assert holds, _show(anc)


@pytest.mark.parametrize("ci", ["sandwich", "bootstrap"])
def test_eight_to_zero_is_significant(ci: str) -> None:
    """8–0 has exact p = 0.0078 < 0.05: the intervals should separate."""
    tab = _table(k_to_zero(8), ci)
    overlap = _overlap(tab, "A", "B")
    assert not overlap, _show(tab)
    anc = _table(k_to_zero(8), ci, anchor="B=1000")
    holds = _contains(anc, "A")
    assert not holds, _show(anc)


@pytest.mark.parametrize("ci", ["sandwich", "bootstrap"])
@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_chain(k: int, ci: str) -> None:
    """A beats B k–0, B beats C k–0, A and C never meet.  The likelihood factorises, so A–B
    and B–C are each a k–0 record (p ≥ 0.0625 for k ≤ 5: intervals overlap; anchored on B,
    A's and C's intervals hold 1000).  A vs C: sup-over-θ_B p-value 2·4^−k ≥ 0.125 for k ≤ 2,
    so anchored on A, C's interval must hold 1000 for k ≤ 2."""
    df = chain(k)
    tab = _table(df, ci)
    assert tab.loc["A", "rating"] > tab.loc["B", "rating"] > tab.loc["C", "rating"]
    overlaps = _overlap(tab, "A", "B") and _overlap(tab, "B", "C")
    assert overlaps, _show(tab)
    on_b = _table(df, ci, anchor="B=1000")
    holds = _contains(on_b, "A") and _contains(on_b, "C")
    assert holds, _show(on_b)
    if k <= 2:
        on_a = _table(df, ci, anchor="A=1000")
        holds = _contains(on_a, "C")
        assert holds, _show(on_a)


# ---------------------------------------------------------------------------- public-API properties
def test_bootstrap_is_seeded_and_close_to_sandwich() -> None:
    df, _ = simulate(10, 20_000, seed=9, outcome="bt", tau=0.3)
    b1 = referee.rank(df, ci="bootstrap", rounds=400, seed=3).table
    b2 = referee.rank(df, ci="bootstrap", rounds=400, seed=3).table
    pd.testing.assert_frame_equal(b1, b2)
    b3 = referee.rank(df, ci="bootstrap", rounds=400, seed=4).table
    assert not np.allclose(b1["ci_low"], b3["ci_low"])
    sw = referee.rank(df, ci="sandwich").table.set_index("model")
    bs = b1.set_index("model").loc[sw.index]
    np.testing.assert_allclose(bs.ci_high - bs.ci_low, sw.ci_high - sw.ci_low, rtol=0.15)


@pytest.mark.parametrize("ci", ["sandwich", "bootstrap"])
def test_clustering_widens_intervals_when_prompts_matter(ci: str) -> None:
    """On prompt-correlated data the cluster-robust interval must be clearly wider."""
    df, _ = simulate(8, 3000, seed=4, outcome="bt", tau=0.3, n_prompts=40, prompt_rho=0.6)
    plain = referee.rank(df, ci=ci, rounds=300, seed=1).table
    clustered = referee.rank(df, ci=ci, rounds=300, seed=1, cluster="prompt_id").table
    width = (plain.ci_high - plain.ci_low).mean()
    cwidth = (clustered.ci_high - clustered.ci_low).mean()
    assert cwidth > 1.25 * width, (cwidth, width)


# ---------------------------------------------------------------------------- the simulators' truth
@pytest.mark.parametrize("outcome", ["bt", "davidson", "rao-kupper", "ordinal"])
@pytest.mark.parametrize("rho", [0.0, 0.6])
def test_simulated_outcomes_follow_the_model(outcome: str, rho: float) -> None:
    """Category frequencies match the model's probabilities (also under the prompt copula,
    which must leave every battle's marginal distribution unchanged)."""
    n = 60_000
    df, theta = simulate(2, n, seed=11, outcome=outcome, spread=1.0, skew=0.0, first_position=0.2,
                         n_prompts=50 if rho else None, prompt_rho=rho)
    d = (theta[df.model_a].to_numpy() - theta[df.model_b].to_numpy()) + 0.2
    probs = outcome_probabilities(d, outcome)
    a_won, b_won = (df.winner == "model_a").to_numpy(), (df.winner == "model_b").to_numpy()
    if outcome == "ordinal":
        strong = (df.strength == 2).to_numpy()
        observed = [a_won & strong, a_won & ~strong, ~a_won & ~b_won, b_won & ~strong, b_won & strong]
    else:
        observed = [a_won, ~a_won & ~b_won, b_won]
    for j, obs in enumerate(observed):
        expected = probs[:, j]
        # with rho > 0 outcomes on one prompt are correlated: allow a design effect of up to ~40
        se = np.sqrt((expected * (1 - expected)).sum() * (40 if rho else 1)) / n
        assert abs(obs.mean() - expected.mean()) < 4 * se + 1e-4, (j, obs.mean(), expected.mean())


def test_prompt_effects_correlate_outcomes_within_a_prompt() -> None:
    df, _ = simulate(2, 20_000, seed=5, outcome="bt", tau=0.0, spread=0.0, skew=0.0, n_prompts=200, prompt_rho=0.6)
    first_wins = np.where(df.model_a == "model-000", df.winner == "model_a", df.winner == "model_b").astype(float)
    share = pd.Series(first_wins).groupby(df.prompt_id.to_numpy()).mean()
    per_prompt = df.groupby("prompt_id").size().mean()
    design_effect = share.var() / (0.25 / per_prompt)
    assert design_effect > 5, design_effect


def test_soft_and_style_data_keep_theta_the_estimand() -> None:
    df, theta = simulate(2, 80_000, seed=2, outcome="bt", tau=0.0, soft_kappa=3.0, spread=1.0, skew=0.0)
    d = theta[df.model_a].to_numpy() - theta[df.model_b].to_numpy()
    assert abs(df.prob_a.mean() - (1 / (1 + np.exp(-d))).mean()) < 0.005
    df, _ = simulate(8, 5000, seed=2, style_beta=0.5, weight_sigma=1.0)
    assert abs(df.x.mean()) < 1e-12 and df.x.std() > 0.5
    assert (df.weight > 0).all() and 0.8 < np.log(df.weight).std() < 1.2


def test_harness_reports_failures_instead_of_dying(monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    from referee import sim

    broken = dataclasses.replace(SCENARIOS["tiny"], name="broken", fit={"model": "no-such-model"})
    monkeypatch.setitem(sim.SCENARIOS, "broken", broken)
    records = pd.DataFrame(arena_records("broken", 0, rounds=10))
    assert records["error"].notna().all() and records["error"].str.contains("no-such-model").all()
    summary = summarise(records)
    assert (summary.status == "ERROR").all()
