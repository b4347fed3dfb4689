"""Simulated arenas with known ground truth, for the demo, the tests and the benchmarks.

Outcomes follow the Bradley–Terry model with ties, in the form whose half-win
estimating equation is unbiased: with ``p = σ(θ_a − θ_b + h)`` (``h`` an optional
first-position advantage),

    P(tie) = 4·τ·p(1−p),   P(a wins) = p − P(tie)/2,   P(b wins) = 1 − p − P(tie)/2,

so ``E[score_a] = p`` exactly when a tie scores one half (τ ≤ 1/2 sets the tie
rate; τ = 0.3 gives about 15–25% ties for typical gaps).  With
``tie_model="davidson"`` outcomes follow Davidson's model with parameter ``nu``.

:func:`simulate` draws from every model ``referee.rank`` fits (BT, Davidson, Rao–Kupper,
ordinal graded verdicts, first-position and style terms) with optional row weights, soft
verdicts and prompt-correlated outcomes; :data:`SCENARIOS` pairs each with the matching
``referee.rank`` options, and :func:`coverage_records` / :func:`summarise` measure how often
the printed intervals cover the truth (``tests/test_coverage.py``, ``bench/coverage.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from referee.schema import WINNERS

LN10_400 = 400.0 / np.log(10.0)


def true_strengths(n_models: int, rng: np.random.Generator, spread: float = 1.0) -> np.ndarray:
    """Centred log-strengths drawn from N(0, spread²)."""
    theta = rng.normal(0.0, spread, n_models)
    result: np.ndarray = theta - theta.mean()
    return result


def _models(
    rng: np.random.Generator, n_models: int, spread: float, skew: float, prefix: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True strengths, names and Zipf(``skew``) popularities in a random order (draws from ``rng``)."""
    theta = true_strengths(n_models, rng, spread)
    names = np.array([f"{prefix}{i:03d}" for i in range(n_models)])
    pop = rng.permutation(1.0 / np.arange(1, n_models + 1) ** skew)
    return theta, names, pop / pop.sum()


def simulate_arena(
    n_models: int = 20,
    n_battles: int = 20_000,
    *,
    seed: int = 0,
    spread: float = 1.0,
    tau: float = 0.3,
    skew: float = 1.0,
    first_position: float = 0.0,
    tie_model: str = "bt",
    nu: float = 0.5,
    n_prompts: int | None = None,
    model_prefix: str = "model-",
) -> tuple[pd.DataFrame, pd.Series]:
    """A seeded arena: (battles table, true centred log-strengths by model name).

    Pairs are drawn with probability ∝ popularity_a · popularity_b, where popularity
    follows a Zipf law with exponent ``skew`` (0 = uniform pairs), so some pairs are
    seen thousands of times and others rarely, like a real arena.
    """
    rng = np.random.default_rng(seed)
    theta, names, pop = _models(rng, n_models, spread, skew, model_prefix)
    a = rng.choice(n_models, size=n_battles, p=pop)
    b = _draw_opponents(rng, a, pop)
    d = theta[a] - theta[b] + first_position
    u = rng.random(n_battles)
    if tie_model == "bt":
        p = 1.0 / (1.0 + np.exp(-d))
        pt = 4.0 * tau * p * (1.0 - p)
        pa = p - pt / 2.0
    elif tie_model == "davidson":
        pia, pib = np.exp(theta[a] + first_position), np.exp(theta[b])
        tie_term = nu * np.sqrt(pia * pib)
        den = pia + pib + tie_term
        pa, pt = pia / den, tie_term / den
    else:
        raise ValueError(f"unknown tie_model {tie_model!r}")
    code = np.where(u < pa, 0, np.where(u < pa + pt, 2, 1))
    # split ties between the two tie labels, as real arenas have both
    both_bad = (code == 2) & (rng.random(n_battles) < 0.3)
    code = np.where(both_bad, 3, code)
    df = pd.DataFrame(
        {
            "model_a": names[a],
            "model_b": names[b],
            "winner": np.asarray(WINNERS, dtype=object)[code],
            "tstamp": 1.7e9 + np.sort(rng.random(n_battles)) * 3e7,
        }
    )
    if n_prompts:
        df["prompt_id"] = [f"p{i}" for i in rng.integers(0, n_prompts, n_battles)]
    return df, pd.Series(theta, index=names, name="theta")


def _draw_opponents(rng: np.random.Generator, a: np.ndarray, pop: np.ndarray) -> np.ndarray:
    """For each first model, an opponent ≠ it drawn ∝ popularity (vectorised)."""
    m = pop.size
    cdf = np.cumsum(pop)
    # draw from pop restricted to j != a: sample u in [0, 1 - pop[a]) and skip a's mass
    u = rng.random(a.size) * (1.0 - pop[a])
    start_a = cdf[a] - pop[a]
    u = np.where(u >= start_a, u + pop[a], u)
    b = np.searchsorted(cdf, u, side="right")
    result: np.ndarray = np.minimum(b, m - 1)
    return result


# ============================================================================ scenarios with known truth
#
# Every estimator ``referee.rank`` offers is consistent for θ only on data from the model it
# fits, so each scenario below draws its outcomes from that model.  ``simulate`` is the one
# generator; :data:`SCENARIOS` pairs each data model with the ``referee.rank`` options that
# fit it.  The truth is always the centred log-strength vector θ (``Σθ = 0``); printed
# ratings estimate ``1000 + (400/ln 10)(θ_i − mean θ)`` (mean-centred) or
# ``1000 + (400/ln 10)(θ_i − θ_anchor)`` (``anchor="M=1000"``), see :func:`display_truth`.

#: The outcome categories of one battle, ordered from the best for model_a to the worst.
#: (winner label, strength); strength 2 is a strong (``A>>B``) verdict.
_OUTCOMES_3 = ((0, 1), (2, 0), (1, 1))  # a wins, tie, b wins
_OUTCOMES_5 = ((0, 2), (0, 1), (2, 0), (1, 1), (1, 2))  # A>>B, A>B, tie, B>A, B>>A


def _expit(x: np.ndarray) -> np.ndarray:
    result: np.ndarray = 1.0 / (1.0 + np.exp(-x))
    return result


def outcome_probabilities(
    d: np.ndarray,
    outcome: str,
    *,
    tau: float = 0.3,
    nu: float = 0.5,
    rk_tau: float = 0.4,
    cuts: tuple[float, float] = (0.4, 1.6),
) -> np.ndarray:
    """Category probabilities (rows × categories, best for model_a first) given ``d``.

    ``d = θ_a − θ_b (+ h + βᵀx)`` is the linear predictor.  With ``p = σ(d)``:

    * ``"bt"`` — (a, tie, b) = ``(p − t/2, t, 1 − p − t/2)``, ``t = 4τ·p(1−p)``, so
      ``E[score_a] = p`` with a tie worth ½ (``τ = 0``: no ties).
    * ``"davidson"`` — ∝ ``(e^{d/2}, ν, e^{−d/2})``; decisive outcomes are exactly BT.
    * ``"rao-kupper"`` — ``P(a) = σ(d − τ_RK)``, ``P(b) = σ(−d − τ_RK)``, the rest ties.
    * ``"ordinal"`` — cumulative logit ``P(Y ≤ k) = σ(c_k − d)`` with symmetric cut-points
      ``(−c₂, −c₁, c₁, c₂)`` over B>>A < B>A < tie < A>B < A>>B (the model of
      :mod:`referee.ranking.graded`); returned in the order A>>B, A>B, tie, B>A, B>>A.
    """
    d = np.asarray(d, dtype=float)
    if outcome == "bt":
        p = _expit(d)
        t = 4.0 * tau * p * (1.0 - p)
        return np.column_stack([p - t / 2.0, t, 1.0 - p - t / 2.0])
    if outcome == "davidson":
        ea, eb = np.exp(d / 2.0), np.exp(-d / 2.0)
        den = ea + eb + nu
        return np.column_stack([ea / den, np.full_like(d, nu) / den, eb / den])
    if outcome == "rao-kupper":
        pa, pb = _expit(d - rk_tau), _expit(-d - rk_tau)
        return np.column_stack([pa, 1.0 - pa - pb, pb])
    if outcome == "ordinal":
        c1, c2 = cuts
        cut = np.array([-c2, -c1, c1, c2])
        cum = _expit(cut[None, :] - d[:, None])  # P(Y ≤ k), Y = 0 (B>>A) … 4 (A>>B)
        probs = np.diff(np.column_stack([np.zeros(d.size), cum, np.ones(d.size)]), axis=1)
        return probs[:, ::-1]
    raise ValueError(f"unknown outcome model {outcome!r}")


def _connected(a: np.ndarray, b: np.ndarray, m: int) -> bool:
    """Whether the comparison graph on m models is connected (and every model plays)."""
    parent = list(range(m))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in zip(a.tolist(), b.tolist(), strict=True):
        parent[find(i)] = find(j)
    return len({find(i) for i in range(m)}) == 1


def simulate(
    n_models: int = 8,
    n_battles: int = 1000,
    *,
    seed: int = 0,
    outcome: str = "bt",
    spread: float = 0.7,
    skew: float = 0.8,
    tau: float = 0.3,
    nu: float = 0.5,
    rk_tau: float = 0.4,
    cuts: tuple[float, float] = (0.4, 1.6),
    first_position: float = 0.0,
    style_beta: float = 0.0,
    weight_sigma: float = 0.0,
    soft_kappa: float = 0.0,
    n_prompts: int | None = None,
    prompt_rho: float = 0.0,
    model_prefix: str = "model-",
) -> tuple[pd.DataFrame, pd.Series]:
    """A seeded arena from a known model: (comparisons table, true centred θ by model name).

    Pairs are drawn as in :func:`simulate_arena` (Zipf popularity with exponent ``skew``),
    redrawn until the comparison graph is connected.  The linear predictor of a battle is

        d = θ_a − θ_b + h + β·x,

    ``h = first_position`` (the shown-first advantage) and, when ``style_beta ≠ 0``, a
    numeric covariate column ``x`` built from a per-model verbosity ``v ~ N(0, 1)``
    (``x_raw = 0.6·(v_a − v_b)/√2 + 0.8·ε``, so the covariate is confounded with strength
    as in real arenas) and centred over rows, so that ``x`` has mean exactly 0 and
    ``referee``'s standardisation ``(x − x̄)/sd`` only rescales β.  The outcome follows
    :func:`outcome_probabilities` (``outcome`` = bt, davidson, rao-kupper, ordinal);
    ties are split 70/30 between ``tie`` and ``tie (bothbad)``.

    Extras, each keeping θ the estimand:

    * ``weight_sigma > 0``: a ``weight`` column, lognormal ``exp(σ·N(0,1))`` drawn
      independently of everything else (so a weighted estimator stays consistent).
    * ``soft_kappa > 0`` (``outcome="bt"``, ``τ = 0``): a soft verdict column ``prob_a``
      drawn from ``Beta(κp, κ(1−p))``, ``p = σ(d)``, so ``E[prob_a] = σ(d)`` (the Bernoulli
      quasi-likelihood with soft scores is unbiased); no ``winner`` column is written.
    * ``n_prompts``: a ``prompt_id`` column (prompts uniform over battles).
    * ``prompt_rho > 0`` (needs ``n_prompts``): per-prompt, per-model random effects that
      correlate outcomes within a prompt but leave each battle's marginal distribution
      exactly the model's, so θ stays the estimand.  Each prompt p and model m get
      ``z_pm ~ N(0, 1)``; a battle's category is found by inverting its cumulative
      probabilities at ``U = Φ(√ρ·(z_pb − z_pa)/√2 + √(1−ρ)·ε)`` — a Gaussian copula: U is
      exactly uniform, so every battle keeps its marginal outcome probabilities, while a
      model that "suits" a prompt tends to win all its battles on it.  (A random effect
      added to the logit instead would attenuate the marginal θ and change the estimand.)
      Only cluster-robust intervals (``cluster="prompt_id"``) are honest on such data.

    The returned truth carries ``attrs``: ``first_position`` (h), ``style_beta`` (β on the
    raw ``x``) and the data-model parameters.
    """
    if prompt_rho and not n_prompts:
        raise ValueError("prompt_rho needs n_prompts")
    if soft_kappa and (outcome != "bt" or tau):
        raise ValueError("soft verdicts are drawn for outcome='bt' with tau=0 only")
    rng = np.random.default_rng(seed)
    theta, names, pop = _models(rng, n_models, spread, skew, model_prefix)
    for _ in range(1000):
        a = rng.choice(n_models, size=n_battles, p=pop)
        b = _draw_opponents(rng, a, pop)
        if _connected(a, b, n_models):
            break
    else:  # pragma: no cover - only with absurdly few battles
        raise ValueError(f"could not draw a connected arena of {n_models} models in {n_battles} battles")
    d = theta[a] - theta[b] + first_position
    x = None
    if style_beta:
        v = rng.normal(0.0, 1.0, n_models)
        x = 0.6 * (v[a] - v[b]) / np.sqrt(2.0) + 0.8 * rng.normal(0.0, 1.0, n_battles)
        x = x - x.mean()
        d = d + style_beta * x
    prompt = rng.integers(0, n_prompts, n_battles) if n_prompts else None
    if prompt_rho:
        assert prompt is not None
        z = rng.normal(0.0, 1.0, (int(n_prompts or 0), n_models))
        lat = np.sqrt(prompt_rho) * (z[prompt, b] - z[prompt, a]) / np.sqrt(2.0)
        lat += np.sqrt(1.0 - prompt_rho) * rng.normal(0.0, 1.0, n_battles)
        from scipy.special import ndtr

        u = ndtr(lat)
    else:
        u = rng.random(n_battles)
    cols: dict[str, object] = {"model_a": names[a], "model_b": names[b]}
    if soft_kappa:
        p = _expit(d)
        cols["prob_a"] = rng.beta(soft_kappa * p, soft_kappa * (1.0 - p))
    else:
        probs = outcome_probabilities(d, outcome, tau=tau, nu=nu, rk_tau=rk_tau, cuts=cuts)
        cat = (u[:, None] > np.cumsum(probs, axis=1)[:, :-1]).sum(axis=1)
        table = _OUTCOMES_5 if outcome == "ordinal" else _OUTCOMES_3
        code = np.array([t[0] for t in table])[cat]
        both_bad = (code == 2) & (rng.random(n_battles) < 0.3)
        code = np.where(both_bad, 3, code)
        cols["winner"] = np.asarray(WINNERS, dtype=object)[code]
        if outcome == "ordinal":
            cols["strength"] = np.array([t[1] for t in table], dtype=float)[cat]
    if prompt is not None:
        cols["prompt_id"] = np.array([f"p{i}" for i in range(int(n_prompts or 0))], dtype=object)[prompt]
    if x is not None:
        cols["x"] = x
    if weight_sigma:
        cols["weight"] = np.exp(weight_sigma * rng.normal(0.0, 1.0, n_battles))
    truth = pd.Series(theta, index=names, name="theta")
    truth.attrs.update(
        {"first_position": first_position, "style_beta": style_beta, "outcome": outcome, "tau": tau, "nu": nu,
         "rk_tau": rk_tau, "cuts": cuts, "prompt_rho": prompt_rho}
    )
    return pd.DataFrame(cols), truth


def display_truth(theta: pd.Series, anchor: str | None = None, rating: float = 1000.0) -> pd.Series:
    """The ratings a leaderboard estimates: ``rating + (400/ln 10)(θ_i − c)`` where ``c`` is
    mean θ (mean-centred) or ``θ_anchor`` (``anchor`` names a model)."""
    centre = float(theta.mean()) if anchor is None else float(theta[anchor])
    result: pd.Series = rating + LN10_400 * (theta - centre)
    return result


# ============================================================================ coverage harness
#
# Runs ``referee.rank`` — the public API only — on many simulated arenas and counts how
# often each printed interval [ci_low, ci_high] covers the true display-scale rating.

#: Interval kinds: ``referee.rank`` keywords.  The clustered kinds cluster by ``prompt_id``.
INTERVAL_KINDS: dict[str, dict[str, Any]] = {
    "sandwich": {"ci": "sandwich"},
    "cluster-sandwich": {"ci": "sandwich", "cluster": "prompt_id"},
    "bootstrap": {"ci": "bootstrap"},
    "cluster-bootstrap": {"ci": "bootstrap", "cluster": "prompt_id"},
}
#: ``mean``: ratings centred on 1000; ``anchored``: ``anchor="<first model>=1000"``.
CENTRINGS: tuple[str, ...] = ("mean", "anchored")
#: The nominal band asserted for 95% intervals.
BAND = (0.92, 0.98)


@dataclass(frozen=True)
class Scenario:
    """A data model (:func:`simulate` keywords) and the ``referee.rank`` options that fit it.

    ``sizes`` (n_models, n_battles) cycle with the arena seed; ``honest`` lists the
    interval kinds expected to reach ``band``; the others are run and reported only.
    """

    name: str
    description: str
    data: Mapping[str, Any]
    fit: Mapping[str, Any]
    sizes: tuple[tuple[int, int], ...] = ((8, 1000),)
    kinds: tuple[str, ...] = tuple(INTERVAL_KINDS)
    honest: tuple[str, ...] = tuple(INTERVAL_KINDS)
    band: tuple[float, float] = BAND


_IND = {"n_prompts": 100, "spread": 0.7, "skew": 0.8}  # independent battles, 100 prompts
_TINY_SIZES = ((3, 20), (4, 30), (5, 40), (6, 60), (5, 25), (6, 45), (4, 16), (6, 36))

SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("bt-half", "BT with ties worth ½ (simulate_arena tie form, τ=0.3)",
                 {**_IND, "outcome": "bt", "tau": 0.3}, {"model": "bt", "ties": "half"}),
        Scenario("bt-drop", "BT, ties dropped, on Davidson data (ν=0.5; decisive outcomes are BT)",
                 {**_IND, "outcome": "davidson", "nu": 0.5}, {"model": "bt", "ties": "drop"}),
        Scenario("davidson", "Davidson (ν=0.5)",
                 {**_IND, "outcome": "davidson", "nu": 0.5}, {"model": "davidson"}),
        Scenario("rao-kupper", "Rao–Kupper (τ=0.4: P(a)=σ(d−τ), P(b)=σ(−d−τ))",
                 {**_IND, "outcome": "rao-kupper", "rk_tau": 0.4}, {"model": "rao-kupper"}),
        Scenario("ordinal", "graded verdicts, cumulative logit, cuts ±0.4, ±1.6",
                 {**_IND, "outcome": "ordinal", "cuts": (0.4, 1.6)}, {"model": "bt", "graded": "ordinal"}),
        Scenario("first-position", "BT ties ½ with a shown-first advantage h=0.3",
                 {**_IND, "outcome": "bt", "tau": 0.3, "first_position": 0.3},
                 {"model": "bt", "ties": "half", "first_position": True}),
        Scenario("style", "BT ties ½, logit += 0.5·x (x confounded with model), style=['x']",
                 {**_IND, "outcome": "bt", "tau": 0.3, "style_beta": 0.5},
                 {"model": "bt", "ties": "half", "style": ["x"]}),
        Scenario("weights", "BT ties ½ with lognormal(0, 1) row weights independent of outcomes",
                 {**_IND, "outcome": "bt", "tau": 0.3, "weight_sigma": 1.0}, {"model": "bt", "ties": "half"}),
        Scenario("soft", "soft verdicts prob_a ~ Beta(3p, 3(1−p)), p=σ(θa−θb)",
                 {**_IND, "outcome": "bt", "tau": 0.0, "soft_kappa": 3.0}, {"model": "bt"}),
        Scenario("prompt-effects", "BT ties ½, per-prompt per-model effects (Gaussian copula ρ=0.6, 40 prompts)",
                 {**_IND, "outcome": "bt", "tau": 0.3, "n_prompts": 40, "prompt_rho": 0.6},
                 {"model": "bt", "ties": "half"}, honest=("cluster-sandwich", "cluster-bootstrap")),
        Scenario("tiny", "BT ties ½, 3–6 models × 16–60 battles, uniform pairs, spread 1",
                 {"outcome": "bt", "tau": 0.3, "spread": 1.0, "skew": 0.0}, {"model": "bt", "ties": "half"},
                 sizes=_TINY_SIZES, kinds=("sandwich", "bootstrap"), honest=("sandwich", "bootstrap"),
                 band=(0.90, 1.0)),
    )
}


def degenerate(df: pd.DataFrame) -> bool:
    """Whether some model never lost or never won (ties count as neither)."""
    a, b = df["model_a"].to_numpy(), df["model_b"].to_numpy()
    if "winner" in df.columns:
        w = df["winner"].to_numpy()
        a_won, b_won = w == WINNERS[0], w == WINNERS[1]
    else:
        q = df["prob_a"].to_numpy(dtype=float)
        a_won, b_won = q > 0, q < 1
    models = set(a) | set(b)
    winners = set(a[a_won]) | set(b[b_won])
    losers = set(a[b_won]) | set(b[a_won])
    return bool(models - winners or models - losers)


def scenario_seed(scenario: str, arena: int) -> int:
    """The data seed of arena number ``arena`` of a scenario: distinct scenarios get
    disjoint, stable seed ranges (CRC-32 of the name), so their arenas are independent."""
    import zlib

    return (zlib.crc32(scenario.encode()) & 0xFFFF) * 100_000 + arena


def arena_records(
    scenario: str,
    seed: int,
    *,
    kinds: Sequence[str] | None = None,
    centrings: Sequence[str] = CENTRINGS,
    rounds: int = 200,
) -> list[dict[str, Any]]:
    """Simulate arena ``seed`` of ``scenario`` and rank it once per (interval kind, centring).

    One record per call: ``hits`` / ``n`` (model intervals covering the truth, the anchor
    excluded), ``anchor_exact`` (anchored: the anchor's interval is [1000, 1000]),
    ``width`` (mean interval width in rating points), ``error`` (``"Type: message"`` when
    ``referee.rank`` raised or returned no interval; never propagated), ``cluster_ignored``
    (a cluster was asked for but ``board.meta["cluster"]`` is empty), ``seconds``.  The data
    (and the bootstrap) use :func:`scenario_seed`, so scenarios never share arenas.
    """
    import time

    import referee

    spec = SCENARIOS[scenario]
    m, n = spec.sizes[seed % len(spec.sizes)]
    data_seed = scenario_seed(scenario, seed)
    df, theta = simulate(m, n, seed=data_seed, **spec.data)
    is_degenerate = degenerate(df)
    anchor_model = str(theta.index[0])
    out = []
    for kind in kinds or spec.kinds:
        for centring in centrings:
            anchor = f"{anchor_model}=1000" if centring == "anchored" else None
            truth = display_truth(theta, anchor_model if anchor else None)
            rec: dict[str, Any] = {"scenario": scenario, "kind": kind, "centring": centring, "seed": seed,
                                   "models": m, "battles": n, "degenerate": is_degenerate, "hits": 0, "n": 0,
                                   "anchor_exact": None, "width": np.nan, "error": None, "cluster_ignored": False}
            t0 = time.perf_counter()
            try:
                options = INTERVAL_KINDS[kind]
                board = referee.rank(df, seed=data_seed, rounds=rounds, anchor=anchor, **spec.fit, **options)
                if options.get("cluster") and not board.meta.get("cluster"):
                    rec["cluster_ignored"] = True
                tab = board.table.set_index("model")
                lo, hi = tab["ci_low"].astype(float), tab["ci_high"].astype(float)
                if lo.isna().any() or hi.isna().any():
                    raise ValueError("missing interval bounds: " + ", ".join(map(str, tab.index[lo.isna() | hi.isna()])))
                others = [k for k in theta.index if k != anchor_model] if anchor else list(theta.index)
                t = truth.reindex(others)
                rec["hits"] = int(((lo[others] <= t) & (t <= hi[others])).sum())
                rec["n"] = len(others)
                rec["width"] = float((hi[others] - lo[others]).mean())
                if anchor:
                    rec["anchor_exact"] = bool(
                        abs(lo[anchor_model] - 1000.0) < 1e-6 and abs(hi[anchor_model] - 1000.0) < 1e-6
                    )
            except Exception as exc:  # a crash is a finding, reported per cell
                rec["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}"
            rec["seconds"] = time.perf_counter() - t0
            out.append(rec)
    return out


def _arena_task(args: tuple[str, int, tuple[str, ...] | None, tuple[str, ...], int]) -> list[dict[str, Any]]:
    scenario, seed, kinds, centrings, rounds = args
    return arena_records(scenario, seed, kinds=kinds, centrings=centrings, rounds=rounds)


@contextmanager
def process_pool(jobs: int) -> Iterator[Executor | None]:
    """A spawn-context process pool of ``jobs`` workers (``None`` for ``jobs <= 1``), its
    workers started with one BLAS thread each."""
    if jobs <= 1:
        yield None
        return
    import multiprocessing as mp
    import os
    from concurrent.futures import ProcessPoolExecutor

    keys = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    saved = {k: os.environ.get(k) for k in keys}
    os.environ.update(dict.fromkeys(keys, "1"))
    try:
        with ProcessPoolExecutor(jobs, mp_context=mp.get_context("spawn")) as pool:
            yield pool
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def coverage_records(
    scenarios: Sequence[str],
    arenas: int = 100,
    *,
    kinds: Sequence[str] | None = None,
    centrings: Sequence[str] = CENTRINGS,
    rounds: int = 200,
    first_seed: int = 0,
    jobs: int = 1,
    pool: Executor | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Records of :func:`arena_records` for ``arenas`` seeds of each scenario.

    Arenas run in ``pool`` when given, else in a fresh :func:`process_pool` of ``jobs``
    processes (serially for ``jobs <= 1``); ``kinds`` restricts each scenario's interval kinds;
    ``progress(done, total)`` is called after each arena.
    """
    tasks = []
    for sc in scenarios:
        ks = tuple(k for k in SCENARIOS[sc].kinds if kinds is None or k in kinds)
        tasks += [(sc, first_seed + i, ks, tuple(centrings), rounds) for i in range(arenas)]

    def collect(it: Iterable[list[dict[str, Any]]]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for i, res in enumerate(it, 1):
            out += res
            if progress:
                progress(i, len(tasks))
        return out

    if pool is not None:
        records = collect(pool.map(_arena_task, tasks))
    elif jobs > 1:
        with process_pool(jobs) as own:
            assert own is not None
            records = collect(own.map(_arena_task, tasks))
    else:
        records = collect(map(_arena_task, tasks))
    return pd.DataFrame(records)


def summarise(records: pd.DataFrame) -> pd.DataFrame:
    """One row per (scenario, kind, centring): pooled coverage and its Monte-Carlo SE.

    ``coverage = Σ hits / Σ n`` over arenas without an error.  Intervals within one arena
    are correlated (they share the data and, mean-centred, the centre), so ``se`` treats
    arenas as the independent units — the ratio-estimator SE
    ``sqrt(J/(J−1) · Σ_j (hits_j − c·n_j)²) / Σ_j n_j`` over the J arenas — while
    ``se_binomial = sqrt(c(1−c)/Σn)`` pretends all intervals are independent.
    ``status``: ``ok`` inside the scenario's band, ``LOW`` / ``HIGH`` outside, ``ERROR``
    when any arena raised, ``ANCHOR`` when an anchor's interval was not exactly [1000, 1000],
    ``NOCLUSTER`` when the board did not record the requested cluster, ``report`` for kinds
    the scenario does not expect to be honest.
    """
    rows = []
    for (sc, kind, centring), g in records.groupby(["scenario", "kind", "centring"], sort=False):
        spec = SCENARIOS[str(sc)]
        ok = g[g["error"].isna()]
        hits, n = ok["hits"].to_numpy(float), ok["n"].to_numpy(float)
        total = n.sum()
        cov = hits.sum() / total if total else np.nan
        j = len(ok)
        se = float(np.sqrt(j / (j - 1) * np.sum((hits - cov * n) ** 2)) / total) if j > 1 and total else np.nan
        errors = g["error"].dropna()
        anchor = g["anchor_exact"].dropna()
        lo, hi = spec.band
        if len(errors):
            status = "ERROR"
        elif kind not in spec.honest:
            status = "report"
        else:
            status = "ok" if lo <= cov <= hi else ("LOW" if cov < lo else "HIGH")
        if centring == "anchored" and len(anchor) and not anchor.all() and status == "ok":
            status = "ANCHOR"
        if g["cluster_ignored"].any() and status == "ok":
            status = "NOCLUSTER"
        rows.append({
            "scenario": sc, "kind": kind, "centring": centring, "arenas": len(g), "intervals": int(total),
            "coverage": cov, "se": se, "se_binomial": float(np.sqrt(cov * (1 - cov) / total)) if total else np.nan,
            "errors": len(errors), "first_error": errors.iloc[0] if len(errors) else "",
            "anchor_not_exact": int((~anchor.astype(bool)).sum()) if len(anchor) else 0,
            "cluster_ignored": int(g["cluster_ignored"].sum()),
            "degenerate_arenas": int(g.drop_duplicates("seed")["degenerate"].sum()),
            "width": float(ok["width"].mean()) if j else np.nan, "seconds": float(g["seconds"].sum()),
            "band": f"{lo:.2f}–{hi:.2f}", "status": status,
        })
    return pd.DataFrame(rows)


# ============================================================================ exact small cases
def k_to_zero(k: int, names: tuple[str, str] = ("A", "B")) -> pd.DataFrame:
    """Two models, ``names[0]`` beats ``names[1]`` k times (half of the battles shown
    first, so a first-position term cannot explain the record); no other battle.
    The exact two-sided binomial test of equal strength gives ``p = 2·0.5^k``."""
    a, b = names
    rows = [(a, b, "model_a") if i % 2 == 0 else (b, a, "model_b") for i in range(k)]
    return pd.DataFrame(rows, columns=["model_a", "model_b", "winner"])


def chain(k: int, names: tuple[str, str, str] = ("A", "B", "C")) -> pd.DataFrame:
    """Three models in a chain: A beats B k times, B beats C k times, A and C never meet.

    Exact tests: A vs B (and B vs C) alone are a k–0 record, ``p = 2·0.5^k``.  For A vs C,
    under ``θ_A = θ_C`` the probability of the observed record is ``(p(1−p))^k ≤ 4^{−k}``
    whatever θ_B, so the sup-over-nuisance two-sided p-value is ``2·4^{−k}`` (0.5, 0.125,
    0.031 for k = 1, 2, 3).
    """
    a, b, c = names
    return pd.concat([k_to_zero(k, (a, b)), k_to_zero(k, (b, c))], ignore_index=True)
