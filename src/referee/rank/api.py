"""``referee.rank``: from comparisons to a leaderboard with honest uncertainty.

This is the library function behind ``referee rank``; every CLI option is a
keyword argument here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from referee import __version__
from referee.errors import InputError
from referee.rank.bt import WEAK_PRIOR, components, fit_bt, mle_exists, pair_stats
from referee.rank.cells import Cells, aggregate, aggregate_rows, cluster_counts, model_index
from referee.rank.fit import Fit
from referee.rank.leaderboard import Leaderboard
from referee.rank.uncertainty import (
    Intervals,
    bootstrap_bt,
    bootstrap_generic,
    bootstrap_rows,
    percentile_intervals,
    rank_intervals,
    sandwich_intervals,
    simultaneous_draws,
    win_matrix,
)
from referee.schema import A_WINS, B_WINS, validate

SCALE = 400.0 / math.log(10.0)
BASE_RATING = 1000.0
MODELS = ("bt", "davidson", "rao-kupper", "elo")
GRADED = ("auto", "ordinal", "arena-hard", "ignore")
LC_MIN_MODELS = 5  # below this, the data-driven instruction difficulty of the LC GLM is weak


def load(data: Any, format: str | None = None) -> pd.DataFrame:
    """A validated comparisons table from a DataFrame, a path or a list of paths."""
    if isinstance(data, pd.DataFrame):
        return validate(data)
    from referee.io import read

    paths = [data] if isinstance(data, str | Path) else list(data)
    return read(paths, format=format)


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
        raise InputError(f"--anchor must look like MODEL=RATING, got {anchor!r}", field="anchor") from None


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


def _graded_mode(cells: Cells, graded: str) -> str:
    if graded not in GRADED:
        raise InputError(f"graded must be one of {', '.join(GRADED)}", field="graded")
    has_grades = bool((cells.s == 2).any())
    if not has_grades:
        return "none"
    return "ordinal" if graded == "auto" else graded


def _cell_fitter(model: str, ties: str, graded: str, home: bool, prior: float):
    """The cell-based fitting function for the chosen model (a closure over options)."""
    if model == "bt":
        if graded == "ordinal":
            from referee.rank.graded import fit_ordinal

            return lambda c: fit_ordinal(c, home=home, prior=prior)
        if graded == "arena-hard":
            from referee.rank.graded import arena_hard_weights

            return lambda c: fit_bt(arena_hard_weights(c), ties=ties, home=home, prior=prior)
        return lambda c: fit_bt(c, ties=ties, home=home, prior=prior)
    if model == "davidson":
        from referee.rank.ties import fit_davidson

        return lambda c: fit_davidson(c, home=home, prior=prior)
    if model == "rao-kupper":
        from referee.rank.ties import fit_rao_kupper

        return lambda c: fit_rao_kupper(c, home=home, prior=prior)
    raise InputError(f"unknown model {model!r}; choose one of {', '.join(MODELS)}", field="model")


def rank(
    data: Any,
    *,
    format: str | None = None,
    model: str = "bt",
    ties: str = "half",
    graded: str = "auto",
    first_position: bool = False,
    style: Sequence[str] | str | None = None,
    style_unit: str = "tokens",
    ci: str = "sandwich",
    rounds: int = 1000,
    cluster: str | None = None,
    seed: int = 0,
    level: float = 0.95,
    baseline: str | None = None,
    lc: bool = False,
    lc_length: str = "chars",
    anchor: str | None = None,
    soft: bool = True,
    elo_k: float = 4.0,
    elo_shuffles: int = 0,
    workers: int = 2,
    progress: Any = None,
) -> Leaderboard:
    """Rank models from pairwise comparisons.

    Parameters mirror ``referee rank``: ``model`` is ``bt`` (Bradley–Terry, ties
    per ``ties``: ``half`` or ``drop``), ``davidson`` / ``rao-kupper`` (tie models,
    tie parameter reported) or ``elo`` (online Elo, for comparison).  Graded
    verdicts (``strength`` 2 = ``A>>B``) use ``graded``: ``ordinal`` (cumulative-logit
    BT, the default because it is a proper likelihood whose CIs stay honest) or
    ``arena-hard`` (a strong verdict counts three times; reproduces Arena-Hard).
    ``first_position`` estimates a shown-first advantage; ``style`` lists style
    covariates (``length``, ``markdown``, or column names) for style control.
    ``ci`` is ``sandwich``, ``bootstrap`` or ``none``; ``cluster`` names a column
    (``prompt_id``, ``voter``) for a clustered bootstrap.  ``baseline`` adds win
    rates vs that model; ``lc`` the length-controlled win rate.  ``progress`` is
    an optional callback ``(done, total)`` for bootstrap rounds.
    """
    if model not in MODELS:
        raise InputError(f"unknown model {model!r}; choose one of {', '.join(MODELS)}", field="model")
    if ci not in ("sandwich", "bootstrap", "none"):
        raise InputError("ci must be 'sandwich', 'bootstrap' or 'none'", field="ci")
    if ties not in ("half", "drop"):
        raise InputError("ties must be 'half' or 'drop' (tie models: --model davidson / rao-kupper)", field="ties")
    if not 0 < level < 1:
        raise InputError("level must lie strictly between 0 and 1", field="level")
    anchor_pair = parse_anchor(anchor)
    df_all = load(data, format)
    dropped = dict(df_all.attrs.get("dropped", {}))
    df, n_self = drop_self_battles(df_all)
    if n_self:
        dropped["self_battles"] = n_self
    cluster = _cluster_column(df, cluster)
    style_list = _style_list(style)

    cells = aggregate(df, soft=soft)
    check_connected(cells)
    graded_mode = _graded_mode(cells, graded)
    prior = 0.0 if mle_exists(pair_stats(cells, ties)) else WEAK_PRIOR
    meta: dict[str, Any] = {
        "method": model,
        "ties": ties if model in ("bt", "elo") else "modelled",
        "ci": ci,
        "rounds": rounds if ci == "bootstrap" else None,
        "seed": seed,
        "n_comparisons": len(df),
        "style_coefficients": None,
        "tie_parameter": None,
        "anchor": anchor,
        "referee_version": __version__,
        "level": level,
        "graded": None if graded_mode == "none" else graded_mode,
        "cluster": cluster if ci == "bootstrap" else None,
        "dropped": dropped,
        "prior_precision": prior or None,
        "first_position": None,
    }
    if prior:
        meta["notes"] = [
            "Some model never won or never lost, so its maximum-likelihood rating is infinite; a weak "
            f"N(0, {1 / math.sqrt(prior):.0f}²) prior on log-strengths keeps ratings finite (see docs)."
        ]
    if model == "elo":
        fit, intervals = _elo(df, cells, elo_k, elo_shuffles, seed, ci, rounds, level, progress)
    elif style_list:
        fit, intervals = _style(
            df, cells, model, style_list, style_unit, first_position, ci, rounds, seed, cluster, level, prior, progress
        )
        meta["method"] = f"{model}+style"
        meta["style_coefficients"] = {k.removeprefix("style:"): v for k, v in fit.extra.items() if k.startswith("style:")}
    else:
        fitter = _cell_fitter(model, ties, graded_mode, first_position, prior)
        fit = fitter(cells)
        intervals = _cell_intervals(
            df, cells, fit, fitter, model, ties, graded_mode, first_position, ci, rounds, seed, cluster, level, soft,
            workers, progress,
        )
        if graded_mode != "none":
            meta["method"] = f"{model}-{graded_mode}"
    for key in ("tie_parameter", "first_position"):
        if key in fit.extra:
            meta[key] = fit.extra[key]
            meta[f"{key}_se"] = fit.extra_se.get(key)
    meta["parameters"] = fit.extra or None
    table, win_prob = _table(fit, intervals, cells, level, anchor_pair, seed)
    if baseline is not None:
        table = _add_win_rates(table, df, baseline, lc, lc_length)
        meta["baseline"] = baseline
        n_lc = int(table["lc_win_rate"].notna().sum())
        if lc and n_lc < LC_MIN_MODELS:
            meta.setdefault("notes", []).append(
                f"the length-controlled win rate estimates instruction difficulty from the other models in the "
                f"data; with {n_lc} model(s) that estimate is weak (LC can be off by several points). Rank more "
                "annotation files together for a stable LC."
            )
    return Leaderboard(table=table, meta=meta, win_prob=win_prob)


def _cluster_column(df: pd.DataFrame, cluster: str | None) -> str | None:
    """The column to cluster by; ``prompt`` means ``prompt_id`` when there is one (else the prompt text)."""
    if cluster is None:
        return None
    if cluster == "prompt" and "prompt_id" in df.columns:
        return "prompt_id"
    if cluster == "prompt_id" and "prompt_id" not in df.columns and "prompt" in df.columns:
        return "prompt"
    if cluster not in df.columns:
        raise InputError(f"cannot cluster by {cluster!r}: no such column", field=cluster)
    return cluster


def _style_list(style: Sequence[str] | str | None) -> list[str]:
    if style is None:
        return []
    items = style.split(",") if isinstance(style, str) else list(style)
    return [s.strip() for s in items if s.strip()]


def _cell_intervals(
    df, cells, fit, fitter, model, ties, graded_mode, home, ci, rounds, seed, cluster, level, soft, workers, progress
) -> Intervals | None:
    if ci == "none":
        return None
    if ci == "sandwich":
        return sandwich_intervals(fit, level)
    clusters = cluster_counts(df, cluster, list(cells.models), soft)[1] if cluster else None
    if model == "bt" and graded_mode in ("none", "ignore") and not home:
        samples, refits = bootstrap_bt(
            cells, fit, rounds=rounds, seed=seed, ties=ties, clusters=clusters, workers=workers, progress=progress
        )
    else:
        samples = bootstrap_generic(cells, fitter, rounds=rounds, seed=seed, clusters=clusters, progress=progress)
        refits = 0
    return percentile_intervals(fit, samples, level, rounds=rounds, seed=seed, cluster=cluster, refits=refits)


def _style(
    df, cells, model, style_list, unit, home, ci, rounds, seed, cluster, level, prior, progress
) -> tuple[Fit, Intervals | None]:
    from referee.rank.style import fit_contextual, style_features

    names, x = style_features(df, features=tuple(style_list), length_unit=unit)
    models, ia, ib = model_index(df, list(cells.models))
    from referee.schema import outcome_codes

    y = outcome_codes(df["winner"])
    w = df["weight"].to_numpy(dtype=float) if "weight" in df.columns else np.ones(len(df))

    def fitter(mult: np.ndarray | None = None) -> Fit:
        ww = w if mult is None else w * mult
        return fit_contextual(model, ia, ib, y, x, weight=ww, models=models, home=home, prior=prior, names=names)

    fit = fitter()
    fit.extra = {**fit.extra, **{f"style:{n}": fit.extra.get(f"style:{n}", np.nan) for n in names}}
    if ci == "none":
        return fit, None
    if ci == "sandwich":
        return fit, sandwich_intervals(fit, level)
    codes = pd.factorize(df[cluster].astype(str))[0] if cluster else None
    samples = bootstrap_rows(fitter, len(df), rounds=rounds, seed=seed, cluster_codes=codes, progress=progress)
    return fit, percentile_intervals(fit, samples, level, rounds=rounds, seed=seed, cluster=cluster)


def _elo(df, cells, k, shuffles, seed, ci, rounds, level, progress) -> tuple[Fit, Intervals | None]:
    from referee.rank.elo import online_elo

    models, ratings = online_elo(df, k=k, seed=seed, shuffles=shuffles)
    order = [list(models).index(m) for m in cells.models]
    theta = (np.asarray(ratings, dtype=float)[order] - BASE_RATING) / SCALE
    theta = theta - theta.mean()
    fit = Fit(models=cells.models, theta=theta, method="elo")
    if ci != "bootstrap":
        return fit, None
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(rounds):
        idx = rng.integers(0, len(df), len(df))
        _, r = online_elo(df.iloc[idx], k=k, seed=seed, shuffles=0)
        got = dict(zip(_, r, strict=True))
        th = np.array([(got.get(m, BASE_RATING) - BASE_RATING) / SCALE for m in cells.models])
        samples.append(th - th.mean())
        if progress:
            progress(len(samples), rounds)
    return fit, percentile_intervals(fit, np.vstack(samples), level, rounds=rounds, seed=seed)


def _table(
    fit: Fit, intervals: Intervals | None, cells: Cells, level: float, anchor: tuple[str, float] | None, seed: int
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    names = list(cells.models)
    shift = BASE_RATING
    if anchor is not None:
        if anchor[0] not in names:
            raise InputError(f"anchor model {anchor[0]!r} is not in the data", field="anchor")
        shift = anchor[1] - SCALE * fit.theta[names.index(anchor[0])]
    rating = shift + SCALE * fit.theta
    counts = outcome_counts(cells)
    table = pd.DataFrame({"model": names, "rating": rating})
    win_prob: dict[str, pd.DataFrame] = {}
    if intervals is not None:
        table["ci_low"] = shift + SCALE * intervals.lower
        table["ci_high"] = shift + SCALE * intervals.upper
        table["rating_se"] = SCALE * intervals.se
        draws = simultaneous_draws(fit, intervals, seed=seed)
        r_ub, best, worst = rank_intervals(fit.theta, intervals.lower, intervals.upper, draws, level)
        table["rank"], table["rank_low"], table["rank_high"] = r_ub, best, worst
        p, lo, hi = win_matrix(fit, intervals, level)
        win_prob = {k: pd.DataFrame(v, index=names, columns=names) for k, v in (("p", p), ("low", lo), ("high", hi))}
    else:
        order_rank = (-fit.theta).argsort().argsort() + 1
        table["ci_low"] = np.nan
        table["ci_high"] = np.nan
        table["rating_se"] = np.nan
        table["rank"] = table["rank_low"] = table["rank_high"] = order_rank
    if np.allclose(counts.to_numpy(), np.round(counts.to_numpy())):
        counts = counts.round().astype(int)
    table = table.join(counts, on="model")
    for col in ("win_rate_vs_baseline", "win_rate_se", "lc_win_rate"):
        table[col] = np.nan
    table = table.sort_values(["rating", "model"], ascending=[False, True], kind="mergesort").reset_index(drop=True)
    for col in ("rank", "rank_low", "rank_high"):
        table[col] = table[col].astype(int)
    return table, win_prob


def _add_win_rates(table: pd.DataFrame, df: pd.DataFrame, baseline: str, lc: bool, lc_length: str) -> pd.DataFrame:
    from referee.rank.winrate import win_rates

    wr = win_rates(df, baseline)
    table = table.copy()
    table["win_rate_vs_baseline"] = table["model"].map(wr["win_rate"])
    table["win_rate_se"] = table["model"].map(wr["win_rate_se"])
    if lc:
        from referee.rank.winrate import lc_win_rates

        lcw = lc_win_rates(df, baseline, length=lc_length)
        table["lc_win_rate"] = table["model"].map(lcw["lc_win_rate"])
    return table


__all__ = ["aggregate_rows", "load", "rank"]
