"""The steps of :func:`referee.ranking.api.rank`: options, reading, cells, fitting, intervals, the table.

``rank`` composes them (check_options → comparisons → cells → :func:`fit` →
:func:`leaderboard_table` → :func:`add_win_rates`, with :func:`run_meta` / :func:`add_fit_meta`
saying how); :mod:`referee.ranking.distributed` composes the same steps around cells
aggregated on a Ray cluster.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypedDict

import numpy as np
import pandas as pd

from referee import __version__
from referee.errors import InputError
from referee.ranking.bt import components, fit_bt, mle_exists, pair_stats
from referee.ranking.cells import Cells, aggregate_rows, model_index, unit_codes
from referee.ranking.fit import Fit
from referee.ranking.uncertainty import (
    Intervals,
    bootstrap_bt,
    bootstrap_generic,
    bootstrap_rows,
    contrast_intervals,
    percentile_intervals,
    rank_intervals,
    sandwich_intervals,
    simultaneous_draws,
    widen_to_laplace,
    win_matrix,
)
from referee.schema import A_WINS, B_WINS

SCALE = 400.0 / math.log(10.0)
BASE_RATING = 1000.0
MODELS = ("bt", "davidson", "rao-kupper", "elo")
GRADED = ("auto", "ordinal", "arena-hard", "ignore")
CI_METHODS = ("sandwich", "bootstrap", "none")
MIN_ROUNDS = 10  # fewer bootstrap rounds cannot give a 95% percentile interval
LC_MIN_MODELS = 5  # below this, the data-driven instruction difficulty of the LC GLM is weak
ELO_NO_INTERVALS = (
    "Elo has no likelihood and no covariance: no intervals and no rank intervals are shown; "
    "use ci='bootstrap' (--ci bootstrap) for bootstrap intervals of Elo ratings."
)


class CellFitter(Protocol):
    """A model fitted on cells: ``fitter(cells, prior, theta0=None)``."""

    def __call__(self, c: Cells, prior: float, theta0: np.ndarray | None = None) -> Fit: ...


def comparisons(
    data: Any, format: str | None = None, *, merge_case: bool = False, columns: Sequence[str] | None = None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The comparisons to rank and what reading them reported.

    ``data`` (a DataFrame, a path or paths) is read and validated by :func:`referee.io.table`,
    a DataFrame exactly as a file's rows; ``columns``: read only these besides the verdict
    columns, with model and winner labels as Categoricals (the fast path of a plain ``rank``:
    no text columns, no string hashing).  Self-battles are dropped (:func:`drop_self_battles`).
    Returns the table and its report: ``dropped`` (reason → rows, self-battles included),
    ``mapped`` (label mappings applied, e.g. MT-Bench's ``tie (inconsistent)`` → ``tie``) and
    ``name_variants`` (:func:`referee.schema.normalise_names`).
    """
    from referee.io import table

    df_all = table(data, format, merge_case=merge_case, categories=columns is not None, columns=columns)
    report: dict[str, Any] = {
        "dropped": dict(df_all.attrs.get("dropped", {})),
        "mapped": dict(df_all.attrs.get("mapped", {})),
        "name_variants": df_all.attrs.get("name_variants"),
    }
    df, n_self = drop_self_battles(df_all)
    if n_self:
        report["dropped"]["self_battles"] = n_self
    return df, report


def drop_self_battles(df: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Remove rows where a model meets itself; refuse models seen only that way."""
    self_rows = (df["model_a"] == df["model_b"]).to_numpy()
    if not self_rows.any():
        return df, 0
    kept = df[~self_rows]
    only_self = sorted(set(df.loc[self_rows, "model_a"]) - set(kept["model_a"]) - set(kept["model_b"]))
    if only_self or kept.empty:
        names = ", ".join(only_self[:5]) or str(df["model_a"].iloc[0])
        raise InputError(f"model(s) compared only with themselves: {names}; nothing to rank", field="model_a")
    return kept, int(self_rows.sum())


def check_connected(cells: Cells) -> None:
    """Refuse disconnected comparison graphs: ratings in different components are not comparable."""
    comps = components(cells)
    if len(comps) > 1:
        shown = "; ".join("{" + ", ".join(c[:4]) + (", …" if len(c) > 4 else "") + "}" for c in comps[:4])
        raise InputError(
            f"the comparison graph has {len(comps)} disconnected groups of models, whose ratings cannot be "
            f"compared: {shown}. Rank each group separately or add comparisons between them.",
            field="model_a/model_b",
        )


def parse_anchor(anchor: str | None) -> tuple[str, float] | None:
    """'MODEL=RATING' → (model, rating)."""
    if not anchor:
        return None
    name, sep, value = anchor.rpartition("=")
    try:
        if not sep or not name:
            raise ValueError
        return name, float(value)
    except ValueError:
        raise InputError(f"`anchor` must look like MODEL=RATING, got {anchor!r}", field="anchor") from None


def check_options(
    *, model: str, ci: str, ties: str, level: float, rounds: int, baseline: str | None, lc: bool, lc_rounds: int,
    lc_difficulty: Any,
) -> None:
    """Refuse bad option values before anything is read (each error names its parameter)."""
    if model not in MODELS:
        raise InputError(f"unknown model {model!r}: `model` must be one of {', '.join(MODELS)}", field="model")
    if ci not in CI_METHODS:
        raise InputError("`ci` must be 'sandwich', 'bootstrap' or 'none'", field="ci")
    if ties not in ("half", "drop"):
        raise InputError("`ties` must be 'half' or 'drop' (tie models: `model='davidson'` or `model='rao-kupper'`)",
                         field="ties")
    if not 0 < level < 1:
        raise InputError("`level` must lie strictly between 0 and 1", field="level")
    if ci == "bootstrap" and (not isinstance(rounds, int | np.integer) or rounds < MIN_ROUNDS):
        raise InputError(f"a bootstrap needs at least {MIN_ROUNDS} rounds (`rounds`), got {rounds}", field="rounds")
    if lc and baseline is None:
        raise InputError("`lc=True` needs `baseline=MODEL`: the length-controlled win rate is against a baseline",
                         field="lc")
    if lc and (isinstance(lc_rounds, bool) or not isinstance(lc_rounds, int | np.integer) or lc_rounds < 0):
        raise InputError(f"`lc_rounds` (LC bootstrap rounds) must be an integer >= 0 (0: delta method), got "
                         f"{lc_rounds!r}", field="lc_rounds")
    if lc_difficulty is not None and not lc:
        raise InputError("`lc_difficulty` is for the length-controlled win rate: add `lc=True`",
                         field="lc_difficulty")


def outcome_counts(cells: Cells) -> pd.DataFrame:
    """Wins, losses and ties per model (row counts; soft verdicts count fractionally)."""
    m = cells.n_models
    a_won = cells.y == A_WINS
    b_won = cells.y == B_WINS
    tie = cells.y >= 2
    wins = np.bincount(cells.a, cells.n * a_won, m) + np.bincount(cells.b, cells.n * b_won, m)
    losses = np.bincount(cells.a, cells.n * b_won, m) + np.bincount(cells.b, cells.n * a_won, m)
    ties = np.bincount(cells.a, cells.n * tie, m) + np.bincount(cells.b, cells.n * tie, m)
    return pd.DataFrame(
        {"wins": wins, "losses": losses, "ties": ties, "battles": wins + losses + ties}, index=list(cells.models)
    )


def graded_mode(cells: Cells, graded: str) -> str:
    if graded not in GRADED:
        raise InputError(f"`graded` must be one of {', '.join(GRADED)}", field="graded")
    has_grades = bool((cells.s == 2).any())
    if not has_grades:
        return "none"
    return "ordinal" if graded == "auto" else graded


def _cell_fitter(model: str, ties: str, graded: str, home: bool) -> CellFitter:
    """The cell-based fitting function ``fitter(cells, prior, theta0=None)`` for the chosen model."""
    if model == "bt":
        if graded == "ordinal":
            from referee.ranking.graded import fit_ordinal

            return lambda c, prior, theta0=None: fit_ordinal(c, home=home, prior=prior, theta0=theta0)
        if graded == "arena-hard":
            from referee.ranking.graded import arena_hard_weights

            return lambda c, prior, theta0=None: fit_bt(arena_hard_weights(c), ties=ties, home=home, prior=prior,
                                                        theta0=theta0)
        return lambda c, prior, theta0=None: fit_bt(c, ties=ties, home=home, prior=prior, theta0=theta0)
    if model == "davidson":
        from referee.ranking.ties import fit_davidson

        return lambda c, prior, theta0=None: fit_davidson(c, home=home, prior=prior, theta0=theta0)
    if model == "rao-kupper":
        from referee.ranking.ties import fit_rao_kupper

        return lambda c, prior, theta0=None: fit_rao_kupper(c, home=home, prior=prior, theta0=theta0)
    raise InputError(f"unknown model {model!r}: `model` must be one of {', '.join(MODELS)}", field="model")


class Boot(TypedDict):
    """The bootstrap's settings, as keyword arguments of the :mod:`referee.ranking.uncertainty` bootstraps."""

    rounds: int
    seed: int
    workers: int
    progress: Callable[[int, int], None] | None


@dataclass(frozen=True)
class Settings:
    """How to fit and which intervals to give, fixed once the comparisons are read.

    ``graded`` is the resolved mode (``none`` when the data hold no graded verdicts), ``style``
    the covariate names, ``cluster`` the column of independent units (None: rows), ``prior``
    the precision of the weak prior (0: plain maximum likelihood).
    """

    model: str
    ties: str
    graded: str
    home: bool
    style: list[str]
    style_unit: str
    ci: str
    level: float
    cluster: str | None
    prior: float
    soft: bool
    elo_k: float
    elo_shuffles: int
    boot: Boot


def run_meta(
    s: Settings, df: pd.DataFrame, cells: Cells, report: dict[str, Any], *, anchor: str | None, merge_case: bool,
    cluster_note: str | None,
) -> dict[str, Any]:
    """The leaderboard's ``meta`` before the fit: settings, counts, and the notes on the input."""
    clustered = s.ci != "none"
    meta: dict[str, Any] = {
        "method": s.model,
        "ties": s.ties if s.model in ("bt", "elo") else "modelled",
        "ci": s.ci,
        "rounds": s.boot["rounds"] if s.ci == "bootstrap" else None,
        "seed": s.boot["seed"],
        "n_comparisons": len(df),
        "style_coefficients": None,
        "tie_parameter": None,
        "anchor": anchor,
        "referee_version": __version__,
        "level": s.level,
        "graded": None if s.graded == "none" else s.graded,
        "cluster": s.cluster if clustered else None,
        "n_units": cells.n_units if clustered else None,
        "dropped": report["dropped"],
        "mapped": report["mapped"] or None,
        "prior_precision": s.prior or None,
        "first_position": None,
    }
    meta["notes"] = [cluster_note] if cluster_note else []
    if s.prior:
        meta["notes"].append(
            "Some model never won or never lost, so its maximum-likelihood rating is infinite: ratings are the "
            f"posterior mode under a N(0, {1 / math.sqrt(s.prior):.2f}²) prior on log-strengths and intervals the "
            "Laplace (posterior) ones, which match the exact binomial test in small cases (see README)."
        )
    if report["name_variants"]:
        from referee.schema import name_warning

        meta["name_variants"] = report["name_variants"]
        meta["notes"].append(name_warning(meta["name_variants"], merge_case))
    from referee.io import mapping_notes

    meta["notes"] += mapping_notes(report["mapped"])
    return meta


def fit(df: pd.DataFrame, cells: Cells, s: Settings) -> tuple[Fit, Intervals | None]:
    """The fit of ``s.model`` (Elo, style control on rows, or a model on cells) and its intervals."""
    if s.model == "elo":
        return _elo(df, cells, s.elo_k, s.elo_shuffles, s.ci, s.level, s.boot)
    if s.style:
        return _style(df, cells, s.model, s.style, s.style_unit, s.home, s.ci, s.cluster, s.level, s.prior, s.soft,
                      s.boot)
    fitter = _cell_fitter(s.model, s.ties, s.graded, s.home)
    fitted = fitter(cells, s.prior)
    return fitted, _cell_intervals(cells, fitted, fitter, s.model, s.ties, s.graded, s.home, s.ci, s.level, s.boot)


def add_fit_meta(meta: dict[str, Any], fitted: Fit, intervals: Intervals | None, s: Settings) -> None:
    """What the fit adds to ``meta``: the method's full name, style coefficients, the tie parameter
    and first-position advantage, the bootstrap's failures (as notes), the log-likelihood."""
    rounds = s.boot["rounds"]
    if s.model != "elo" and s.style:
        meta["method"] = f"{s.model}+style"
        meta["style_coefficients"] = {
            k.removeprefix("style:"): v for k, v in fitted.extra.items() if k.startswith("style:")
        }
        meta["style_coefficients_se"] = {
            k.removeprefix("style:"): v for k, v in fitted.extra_se.items() if k.startswith("style:")
        }
    elif s.model != "elo" and s.graded != "none":
        meta["method"] = f"{s.model}-{s.graded}"
    if intervals is not None and intervals.method.startswith("bootstrap"):
        meta["bootstrap_failed"] = intervals.failed
        meta["bootstrap_penalised"] = intervals.penalised
        if intervals.failed:
            meta["notes"].append(
                f"{intervals.failed} of {rounds} bootstrap resamples left a model without any comparison and were "
                "dropped; the intervals use the others."
            )
        if intervals.penalised:
            meta["notes"].append(
                f"in {intervals.penalised} of {rounds} bootstrap resamples some model never won or never lost; "
                "those were fitted with the same weak prior as separated data."
            )
        if intervals.method == "bootstrap+laplace":
            meta["notes"].append(
                "the data separate (a model never won or never lost), so every resample does too: bootstrap "
                "intervals are widened to the Laplace (posterior) intervals."
            )
    for key in ("tie_parameter", "first_position"):
        if key in fitted.extra:
            meta[key] = fitted.extra[key]
            meta[f"{key}_se"] = fitted.extra_se.get(key)
    meta["parameters"] = fitted.extra or None
    meta["loglik"] = fitted.loglik  # maximised log-likelihood (segment LR test, referee.ranking.segments)


def columns_needed(
    model: str, style: Sequence[str] | str | None, baseline: str | None, lc: bool, cluster: str | None
) -> list[str] | None:
    """Columns a plain fit reads besides the verdicts (None: all — style control and win
    rates need the texts)."""
    if style or baseline is not None or lc:
        return None
    cols = ["pair_id", "prompt_id", "order"]
    if model == "elo":
        cols.append("tstamp")
    if cluster in ("prompt", "prompt_id"):
        cols.append("prompt")
    elif cluster and cluster != "none":
        cols.append(cluster)
    return cols


def cluster_column(df: pd.DataFrame, cluster: str | None) -> tuple[str | None, str | None]:
    """The column whose values are the independent units of the intervals, and a note.

    ``None`` (the default): ``pair_id`` when some pair appears in more than one row (a judge
    run in both presentation orders: the two verdicts on one pair are one unit), else rows.
    Prompts are not clustered by default — the note says when they repeat, so that
    ``cluster="prompt_id"`` can be chosen.  ``"none"``: rows.  ``prompt`` means
    ``prompt_id`` when there is one (else the prompt text).
    """
    note = None
    if cluster is None:
        if "pair_id" in df.columns and df["pair_id"].notna().any() and df["pair_id"].duplicated().any():
            cluster = "pair_id"
        elif "prompt_id" in df.columns and (n := int(df["prompt_id"].nunique())) < int(df["prompt_id"].notna().sum()):
            note = (
                f"{len(df):,} comparisons share {n:,} prompts; rows are treated as independent. If outcomes on one "
                "prompt are correlated, use cluster='prompt_id' (--cluster prompt_id) for cluster-robust intervals."
            )
            return None, note
        else:
            return None, None
    if cluster == "none":
        return None, None
    if cluster == "prompt" and "prompt_id" in df.columns:
        return "prompt_id", None
    if cluster == "prompt_id" and "prompt_id" not in df.columns and "prompt" in df.columns:
        return "prompt", None
    if cluster not in df.columns:
        raise InputError(f"cannot cluster by {cluster!r}: no such column", field=cluster)
    return cluster, note


def style_list(style: Sequence[str] | str | None) -> list[str]:
    if style is None:
        return []
    items = style.split(",") if isinstance(style, str) else list(style)
    return [s.strip() for s in items if s.strip()]


def _finish_bootstrap(fit: Fit, rounds_out: Any, level: float, boot: Boot, cluster: str | None) -> Intervals:
    iv = percentile_intervals(fit, rounds_out.samples, level, rounds=boot["rounds"], seed=boot["seed"],
                              cluster=cluster, failed=rounds_out.failed, penalised=rounds_out.penalised)
    if fit.extra.get("prior_precision"):
        iv = widen_to_laplace(iv, fit)
    return iv


def _cell_intervals(
    cells: Cells, fit: Fit, fitter: CellFitter, model: str, ties: str, graded_mode: str, home: bool, ci: str,
    level: float, boot: Boot,
) -> Intervals | None:
    if ci == "none":
        return None
    if ci == "sandwich":
        return sandwich_intervals(fit, level)
    prior = fit.extra.get("prior_precision", 0.0)
    if model == "bt" and graded_mode in ("none", "ignore") and not home:
        out = bootstrap_bt(cells, fit, ties=ties, **boot)
    else:
        exists = (lambda c: mle_exists(pair_stats(c, ties))) if model == "bt" else (
            lambda c: mle_exists(pair_stats(c, "half")))
        out = bootstrap_generic(cells, fitter, prior=prior, exists=exists, theta0=fit.theta, **boot)
    return _finish_bootstrap(fit, out, level, boot, cells.clustered)


def _style(
    df: pd.DataFrame, cells: Cells, model: str, style_list: list[str], unit: str, home: bool, ci: str,
    cluster: str | None, level: float, prior: float, soft: bool, boot: Boot,
) -> tuple[Fit, Intervals | None]:
    """Style control on rows.  Soft verdicts: BT takes the score ``prob_a`` directly; the tie
    models see a soft row as an A-win row of weight ``w·p`` and a B-win row of weight
    ``w·(1 − p)`` that form one unit (one observation) in the sandwich and the bootstrap."""
    from referee.ranking.style import fit_contextual, style_features
    from referee.schema import outcome_codes

    names, x = style_features(df, features=tuple(style_list), length_unit=unit)
    models, ia, ib = model_index(df, list(cells.models))
    n = len(df)
    y: np.ndarray = outcome_codes(df["winner"])
    w = df["weight"].to_numpy(dtype=float) if "weight" in df.columns else np.ones(n)
    w = np.where(np.isnan(w), 1.0, w)
    unit_of = _unit_codes(df, cluster)
    p = df["prob_a"].to_numpy(dtype=float) if soft and "prob_a" in df.columns else np.full(n, np.nan)
    has = ~np.isnan(p)
    if has.any() and model == "bt":
        y = np.where(has, p, np.where(y == A_WINS, 1.0, np.where(y == B_WINS, 0.0, 0.5)))
    elif has.any():
        idx = np.flatnonzero(has)
        ia, ib, x, unit_of = np.r_[ia, ia[idx]], np.r_[ib, ib[idx]], np.r_[x, x[idx]], np.r_[unit_of, unit_of[idx]]
        y = np.r_[np.where(has, A_WINS, y), np.full(idx.size, B_WINS)]
        w = np.r_[np.where(has, w * p, w), w[idx] * (1 - p[idx])]
    split = has.any() and model != "bt"
    units = unit_of if (cluster is not None or split) else None

    def fitter(mult: np.ndarray | None = None, pr: float = prior) -> Fit:
        ww = w if mult is None else w * mult
        return fit_contextual(model, ia, ib, y, x, weight=ww, models=models, home=home, prior=pr, names=names,
                              units=units)

    fit = fitter()
    fit.extra = {**fit.extra, **{f"style:{nm}": fit.extra.get(f"style:{nm}", np.nan) for nm in names}}
    if prior:
        fit.extra["prior_precision"] = prior
    if ci == "none":
        return fit, None
    if ci == "sandwich":
        return fit, sandwich_intervals(fit, level)
    out = bootstrap_rows(fitter, unit_of, n_models=len(models), prior=prior, **boot)
    return fit, _finish_bootstrap(fit, out, level, boot, cluster)


def _unit_codes(df: pd.DataFrame, cluster: str | None) -> np.ndarray:
    """0…U−1 per row: its cluster (rows without a value are their own units), or its row number."""
    return np.arange(len(df)) if cluster is None else unit_codes(df[cluster])


def _elo(df: pd.DataFrame, cells: Cells, k: float, shuffles: int, ci: str, level: float, boot: Boot
         ) -> tuple[Fit, Intervals | None]:
    """Online Elo; with ``ci="bootstrap"`` the rows (in their order) are resampled through
    :mod:`referee.resample` and Elo is rerun on each resample."""
    from referee.ranking.elo import battle_order, online_elo
    from referee.resample import bootstrap

    # the validated rows as arrays: online_elo neither reads nor validates them again
    played = battle_order(df)
    rows = tuple(df[c].to_numpy() for c in ("model_a", "model_b", "winner"))
    models, ratings = online_elo(tuple(col[played] for col in rows), k=k, seed=boot["seed"], shuffles=shuffles)
    order = [list(models).index(m) for m in cells.models]
    theta = (np.asarray(ratings, dtype=float)[order] - BASE_RATING) / SCALE
    theta = theta - theta.mean()
    fit = Fit(models=cells.models, theta=theta, method="elo")
    if ci != "bootstrap":
        return fit, None
    names = list(cells.models)

    def statistic(mult: np.ndarray) -> np.ndarray:
        out = np.empty((mult.shape[0], len(names)))
        for i, row in enumerate(mult):
            idx = np.repeat(played, row[played].astype(np.int64))  # each row as often as drawn, in battle order
            got_models, r = online_elo(tuple(col[idx] for col in rows), k=k, shuffles=0)
            got = dict(zip(got_models, r, strict=True))
            th = np.array([(got[m] - BASE_RATING) / SCALE if m in got else np.nan for m in names])
            out[i] = th - np.nanmean(th)
        return out

    res = bootstrap(statistic, _unit_codes(df, None).size, rounds=boot["rounds"], seed=boot["seed"],
                    workers=1, progress=boot["progress"])
    return fit, percentile_intervals(fit, res.samples, level, rounds=boot["rounds"], seed=boot["seed"])


def leaderboard_table(
    fit: Fit, intervals: Intervals | None, cells: Cells, level: float, anchor: tuple[str, float] | None, seed: int
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """The leaderboard table.  Intervals are those of the printed estimand: θᵢ − mean θ, or
    θᵢ − θ_anchor when anchored (the anchor's own interval is then exactly its rating)."""
    names = list(cells.models)
    shift = BASE_RATING
    ref = None
    if anchor is not None:
        if anchor[0] not in names:
            raise InputError(f"`anchor` model {anchor[0]!r} is not in the data", field="anchor")
        ref = names.index(anchor[0])
        shift = anchor[1] - SCALE * fit.theta[ref]
    rating = shift + SCALE * fit.theta
    counts = outcome_counts(cells)
    table = pd.DataFrame({"model": names, "rating": rating})
    win_prob: dict[str, pd.DataFrame] = {}
    if intervals is not None:
        se, lower, upper = contrast_intervals(fit, intervals, ref)
        base = BASE_RATING if anchor is None else anchor[1]  # contrasts are already relative to the anchor
        table["ci_low"] = base + SCALE * lower
        table["ci_high"] = base + SCALE * upper
        table["rating_se"] = SCALE * se
        draws = simultaneous_draws(fit, intervals, seed=seed)
        r_ub, best, worst = rank_intervals(fit.theta, intervals.lower, intervals.upper, draws, level)
        table["rank"], table["rank_low"], table["rank_high"] = r_ub, best, worst
        p, lo, hi = win_matrix(fit, intervals, level)
        win_prob = {k: pd.DataFrame(v, index=names, columns=names) for k, v in (("p", p), ("low", lo), ("high", hi))}
    else:
        # no uncertainty measured: the rank interval claims nothing (1 … M), not certainty
        table["ci_low"] = np.nan
        table["ci_high"] = np.nan
        table["rating_se"] = np.nan
        table["rank"] = (-fit.theta).argsort().argsort() + 1
        table["rank_low"] = 1
        table["rank_high"] = len(names)
    if np.allclose(counts.to_numpy(), np.round(counts.to_numpy())):
        counts = counts.round().astype(int)
    table = table.join(counts, on="model")
    for col in ("win_rate_vs_baseline", "win_rate_se", "lc_win_rate", "lc_win_rate_se"):
        table[col] = np.nan
    table = table.sort_values(["rating", "model"], ascending=[False, True], kind="mergesort").reset_index(drop=True)
    for col in ("rank", "rank_low", "rank_high"):
        table[col] = table[col].astype(int)
    return table, win_prob


def add_win_rates(
    table: pd.DataFrame, df: pd.DataFrame, baseline: str, lc: bool, lc_length: str, lc_difficulty: Any,
    lc_rounds: int, seed: int, workers: int,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Win rates vs ``baseline`` (and LC with its SE) as table columns; LC's settings for ``meta``."""
    from referee.ranking.winrate import win_rates

    wr = win_rates(df, baseline)
    table = table.copy()
    table["win_rate_vs_baseline"] = table["model"].map(wr["win_rate"])
    table["win_rate_se"] = table["model"].map(wr["win_rate_se"])
    if not lc:
        return table, {}
    from referee.ranking.winrate import lc_win_rates

    lcw = lc_win_rates(df, baseline, length=lc_length, difficulty=lc_difficulty, rounds=lc_rounds, seed=seed,
                       workers=workers)
    table["lc_win_rate"] = table["model"].map(lcw["lc_win_rate"])
    table["lc_win_rate_se"] = table["model"].map(lcw["lc_win_rate_se"])
    return table, {
        "lc_se": lcw.attrs["se_method"], "lc_rounds": lcw.attrs["rounds"] or None,
        "lc_failed_rounds": lcw.attrs["failed_rounds"] or None, "lc_difficulty": lcw.attrs["difficulty"],
    }


__all__ = ["aggregate_rows", "comparisons"]
