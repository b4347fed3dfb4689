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
from referee.ranking.bt import WEAK_PRIOR, components, fit_bt, mle_exists, pair_stats
from referee.ranking.cells import Cells, aggregate, aggregate_rows, model_index, unit_codes
from referee.ranking.fit import Fit
from referee.ranking.leaderboard import Leaderboard
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
from referee.schema import A_WINS, B_WINS, validate

SCALE = 400.0 / math.log(10.0)
BASE_RATING = 1000.0
MODELS = ("bt", "davidson", "rao-kupper", "elo")
GRADED = ("auto", "ordinal", "arena-hard", "ignore")
MIN_ROUNDS = 10  # fewer bootstrap rounds cannot give a 95% percentile interval
LC_MIN_MODELS = 5  # below this, the data-driven instruction difficulty of the LC GLM is weak


def load(
    data: Any, format: str | None = None, *, merge_case: bool = False, columns: Sequence[str] | None = None
) -> pd.DataFrame:
    """A validated comparisons table from a DataFrame, a path or a list of paths.

    ``merge_case`` merges model names that differ only by case (see
    :func:`referee.schema.normalise_names`).  ``columns``, for files: read only these
    besides the verdict columns, with model and winner labels as Categoricals (the fast
    path of a plain ``referee rank``: no text columns, no string hashing).
    """
    if isinstance(data, pd.DataFrame):
        return validate(data, merge_case=merge_case)
    from referee.io import read

    paths = [data] if isinstance(data, str | Path) else list(data)
    if columns is None:
        return read(paths, format=format, merge_case=merge_case)
    return read(paths, format=format, merge_case=merge_case, categories=True, columns=columns)


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


def _cell_fitter(model: str, ties: str, graded: str, home: bool):
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
    lc_difficulty: Any = None,
    lc_rounds: int = 200,
    anchor: str | None = None,
    soft: bool = True,
    elo_k: float = 4.0,
    elo_shuffles: int = 0,
    workers: int = 2,
    progress: Any = None,
    merge_case: bool = False,
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
    rates vs that model; ``lc`` the length-controlled win rate, its SE from ``lc_rounds``
    bootstrap rounds over instructions (0: delta method; seeded by ``seed``), with
    ``lc_difficulty`` (a file or Series, :func:`referee.ranking.lc.read_difficulty`) instead
    of the difficulty estimated from the data.  ``progress`` is
    an optional callback ``(done, total)`` for bootstrap rounds.  Model names are
    NFC-normalised and stripped; ``merge_case`` also merges names that differ only by
    case (a warning and a note list such groups either way).
    """
    if model not in MODELS:
        raise InputError(f"unknown model {model!r}; choose one of {', '.join(MODELS)}", field="model")
    if ci not in ("sandwich", "bootstrap", "none"):
        raise InputError("ci must be 'sandwich', 'bootstrap' or 'none'", field="ci")
    if ties not in ("half", "drop"):
        raise InputError("ties must be 'half' or 'drop' (tie models: --model davidson / rao-kupper)", field="ties")
    if not 0 < level < 1:
        raise InputError("level must lie strictly between 0 and 1", field="level")
    if ci == "bootstrap" and (not isinstance(rounds, int | np.integer) or rounds < MIN_ROUNDS):
        raise InputError(f"a bootstrap needs at least {MIN_ROUNDS} rounds, got {rounds}", field="rounds")
    if lc and (isinstance(lc_rounds, bool) or not isinstance(lc_rounds, int | np.integer) or lc_rounds < 0):
        raise InputError(f"LC bootstrap rounds must be an integer >= 0 (0: delta method), got {lc_rounds!r}",
                         field="lc_rounds")
    if lc_difficulty is not None:  # fail fast on a bad file, before any fitting
        if not lc:
            raise InputError("a difficulty file is for the length-controlled win rate: add --lc", field="lc_difficulty")
        from referee.ranking.lc import read_difficulty

        lc_difficulty = read_difficulty(lc_difficulty) if isinstance(lc_difficulty, str | Path) else lc_difficulty
    anchor_pair = parse_anchor(anchor)
    df_all = load(data, format, merge_case=merge_case,
                  columns=_columns_needed(model, style, baseline, lc, cluster))
    dropped = dict(df_all.attrs.get("dropped", {}))
    df, n_self = drop_self_battles(df_all)
    if n_self:
        dropped["self_battles"] = n_self
    cluster, cluster_note = _cluster_column(df, cluster)
    style_list = _style_list(style)
    if model == "elo" and ci == "sandwich":
        ci = "none"  # Elo has no likelihood, hence no sandwich; say so rather than pretend
        cluster_note = (cluster_note or "") + (
            "Elo has no likelihood and no covariance: no intervals and no rank intervals are shown; "
            "use --ci bootstrap for bootstrap intervals of Elo ratings."
        )

    cells = aggregate(df, soft=soft, cluster=cluster)
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
        "cluster": cluster if ci != "none" else None,
        "n_units": cells.n_units if ci != "none" else None,
        "dropped": dropped,
        "prior_precision": prior or None,
        "first_position": None,
    }
    meta["notes"] = [cluster_note] if cluster_note else []
    if prior:
        meta["notes"].append(
            "Some model never won or never lost, so its maximum-likelihood rating is infinite: ratings are the "
            f"posterior mode under a N(0, {1 / math.sqrt(prior):.2f}²) prior on log-strengths and intervals the "
            "Laplace (posterior) ones, which match the exact binomial test in small cases (see README)."
        )
    if df_all.attrs.get("name_variants"):
        from referee.schema import name_warning

        meta["name_variants"] = df_all.attrs["name_variants"]
        meta.setdefault("notes", []).append(name_warning(meta["name_variants"], merge_case))
    # BLAS on one thread: the systems are small (M × M), and threads fighting over busy cores
    # made a 150-model Newton solve several times slower (measured here)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1 if cells.n_models <= 500 else None, user_api="blas"):
        boot = dict(rounds=rounds, seed=seed, workers=workers, progress=progress)
        if model == "elo":
            fit, intervals = _elo(df, cells, elo_k, elo_shuffles, ci, level, boot)
        elif style_list:
            fit, intervals = _style(
                df, cells, model, style_list, style_unit, first_position, ci, cluster, level, prior, soft, boot
            )
            meta["method"] = f"{model}+style"
            meta["style_coefficients"] = {k.removeprefix("style:"): v for k, v in fit.extra.items() if k.startswith("style:")}
            meta["style_coefficients_se"] = {
                k.removeprefix("style:"): v for k, v in fit.extra_se.items() if k.startswith("style:")
            }
        else:
            fitter = _cell_fitter(model, ties, graded_mode, first_position)
            fit = fitter(cells, prior)
            intervals = _cell_intervals(cells, fit, fitter, model, ties, graded_mode, first_position, ci, level, boot)
            if graded_mode != "none":
                meta["method"] = f"{model}-{graded_mode}"
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
            if key in fit.extra:
                meta[key] = fit.extra[key]
                meta[f"{key}_se"] = fit.extra_se.get(key)
        meta["parameters"] = fit.extra or None
        meta["loglik"] = fit.loglik  # maximised log-likelihood (segment LR test, referee.ranking.segments)
        table, win_prob = _table(fit, intervals, cells, level, anchor_pair, seed)
    if baseline is not None:
        table, lc_meta = _add_win_rates(table, df, baseline, lc, lc_length, lc_difficulty, lc_rounds, seed, workers)
        meta["baseline"] = baseline
        meta.update(lc_meta)
        n_lc = int(table["lc_win_rate"].notna().sum())
        if lc and lc_difficulty is None and n_lc < LC_MIN_MODELS:
            meta.setdefault("notes", []).append(
                f"the length-controlled win rate estimates instruction difficulty from the other models in the "
                f"data; with {n_lc} model(s) that estimate is weak (LC can be off by several points). Rank more "
                "annotation files together for a stable LC."
            )
    meta["notes"] = meta["notes"] or None
    return Leaderboard(table=table, meta=meta, win_prob=win_prob)


def _columns_needed(
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


def _cluster_column(df: pd.DataFrame, cluster: str | None) -> tuple[str | None, str | None]:
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


def _style_list(style: Sequence[str] | str | None) -> list[str]:
    if style is None:
        return []
    items = style.split(",") if isinstance(style, str) else list(style)
    return [s.strip() for s in items if s.strip()]


def _finish_bootstrap(fit: Fit, rounds_out: Any, level: float, boot: dict, cluster: str | None) -> Intervals:
    iv = percentile_intervals(fit, rounds_out.samples, level, rounds=boot["rounds"], seed=boot["seed"],
                              cluster=cluster, failed=rounds_out.failed, penalised=rounds_out.penalised)
    if fit.extra.get("prior_precision"):
        iv = widen_to_laplace(iv, fit)
    return iv


def _cell_intervals(
    cells: Cells, fit: Fit, fitter, model: str, ties: str, graded_mode: str, home: bool, ci: str, level: float,
    boot: dict,
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
    cluster: str | None, level: float, prior: float, soft: bool, boot: dict,
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
    unit = _unit_codes(df, cluster)
    p = df["prob_a"].to_numpy(dtype=float) if soft and "prob_a" in df.columns else np.full(n, np.nan)
    has = ~np.isnan(p)
    if has.any() and model == "bt":
        y = np.where(has, p, np.where(y == A_WINS, 1.0, np.where(y == B_WINS, 0.0, 0.5)))
    elif has.any():
        idx = np.flatnonzero(has)
        ia, ib, x, unit = np.r_[ia, ia[idx]], np.r_[ib, ib[idx]], np.r_[x, x[idx]], np.r_[unit, unit[idx]]
        y = np.r_[np.where(has, A_WINS, y), np.full(idx.size, B_WINS)]
        w = np.r_[np.where(has, w * p, w), w[idx] * (1 - p[idx])]
    split = has.any() and model != "bt"
    units = unit if (cluster is not None or split) else None

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
    out = bootstrap_rows(fitter, unit, n_models=len(models), prior=prior, **boot)
    return fit, _finish_bootstrap(fit, out, level, boot, cluster)


def _unit_codes(df: pd.DataFrame, cluster: str | None) -> np.ndarray:
    """0…U−1 per row: its cluster (rows without a value are their own units), or its row number."""
    return np.arange(len(df)) if cluster is None else unit_codes(df[cluster])


def _elo(df: pd.DataFrame, cells: Cells, k: float, shuffles: int, ci: str, level: float, boot: dict
         ) -> tuple[Fit, Intervals | None]:
    """Online Elo; with ``ci="bootstrap"`` the rows (in their order) are resampled through
    :mod:`referee.resample` and Elo is rerun on each resample."""
    from referee.ranking.elo import online_elo
    from referee.resample import bootstrap

    models, ratings = online_elo(df, k=k, seed=boot["seed"], shuffles=shuffles)
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
            idx = np.repeat(np.arange(len(df)), row.astype(np.int64))
            got_models, r = online_elo(df.iloc[idx], k=k, shuffles=0)
            got = dict(zip(got_models, r, strict=True))
            th = np.array([(got[m] - BASE_RATING) / SCALE if m in got else np.nan for m in names])
            out[i] = th - np.nanmean(th)
        return out

    res = bootstrap(statistic, _unit_codes(df, None).size, rounds=boot["rounds"], seed=boot["seed"],
                    workers=1, progress=boot["progress"])
    return fit, percentile_intervals(fit, res.samples, level, rounds=boot["rounds"], seed=boot["seed"])


def _table(
    fit: Fit, intervals: Intervals | None, cells: Cells, level: float, anchor: tuple[str, float] | None, seed: int
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """The leaderboard table.  Intervals are those of the printed estimand: θᵢ − mean θ, or
    θᵢ − θ_anchor when anchored (the anchor's own interval is then exactly its rating)."""
    names = list(cells.models)
    shift = BASE_RATING
    ref = None
    if anchor is not None:
        if anchor[0] not in names:
            raise InputError(f"anchor model {anchor[0]!r} is not in the data", field="anchor")
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


def _add_win_rates(
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


__all__ = ["aggregate_rows", "load", "rank"]
