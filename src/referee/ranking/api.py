"""``referee.rank``: from comparisons to a leaderboard with honest uncertainty.

This is the library function behind ``referee rank``; every CLI option is a
keyword argument here.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from referee.ranking.bt import WEAK_PRIOR, mle_exists, pair_stats
from referee.ranking.cells import aggregate
from referee.ranking.leaderboard import Leaderboard
from referee.ranking.steps import (
    ELO_NO_INTERVALS,
    LC_MIN_MODELS,
    Boot,
    Settings,
    add_fit_meta,
    add_win_rates,
    check_connected,
    check_options,
    cluster_column,
    columns_needed,
    comparisons,
    fit,
    graded_mode,
    leaderboard_table,
    parse_anchor,
    run_meta,
    style_list,
)


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
    ray: str | None = None,
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

    ``data`` is a DataFrame, a path or paths, read by :func:`referee.io.table` (a DataFrame
    is validated as a file's rows).  The steps: :func:`check_options` → :func:`comparisons`
    (read, drop self-battles) → cells (:func:`~referee.ranking.cells.aggregate`,
    :func:`check_connected`) → :func:`fit` (estimates and intervals) → :func:`leaderboard_table`
    (ratings, rank intervals, win probabilities) → :func:`add_win_rates` (win rates and
    LC vs ``baseline``) → :class:`~referee.ranking.leaderboard.Leaderboard`, whose ``meta``
    says how (:func:`run_meta`, :func:`add_fit_meta`).

    ``ray`` (``"auto"``, ``HOST:PORT``, ``ray://…``): aggregate the cells on that Ray cluster,
    one task per input file, and fit on this machine — the same leaderboard
    (:func:`referee.ranking.distributed.rank_on_ray`; options that need the rows are refused).
    """
    if ray is not None:
        options = {k: v for k, v in locals().items() if k not in ("data", "ray")}  # every keyword above
        from referee.ranking.distributed import rank_on_ray

        return rank_on_ray(data, ray, **options)
    check_options(model=model, ci=ci, ties=ties, level=level, rounds=rounds, baseline=baseline, lc=lc,
                  lc_rounds=lc_rounds, lc_difficulty=lc_difficulty)
    if isinstance(lc_difficulty, str | Path):  # fail fast on a bad file, before any fitting
        from referee.ranking.lc import read_difficulty

        lc_difficulty = read_difficulty(lc_difficulty)
    anchor_pair = parse_anchor(anchor)
    df, report = comparisons(data, format, merge_case=merge_case,
                             columns=columns_needed(model, style, baseline, lc, cluster))
    units, cluster_note = cluster_column(df, cluster)
    if model == "elo" and ci == "sandwich":
        ci = "none"  # Elo has no likelihood, hence no sandwich; say so rather than pretend
        cluster_note = (cluster_note or "") + ELO_NO_INTERVALS
    cells = aggregate(df, soft=soft, cluster=units)
    check_connected(cells)
    s = Settings(
        model=model, ties=ties, graded=graded_mode(cells, graded), home=first_position, style=style_list(style),
        style_unit=style_unit, ci=ci, level=level, cluster=units,
        prior=0.0 if mle_exists(pair_stats(cells, ties)) else WEAK_PRIOR, soft=soft, elo_k=elo_k,
        elo_shuffles=elo_shuffles, boot=Boot(rounds=rounds, seed=seed, workers=workers, progress=progress),
    )
    meta = run_meta(s, df, cells, report, anchor=anchor, merge_case=merge_case, cluster_note=cluster_note)
    # BLAS on one thread: the systems are small (M × M), and threads fighting over busy cores
    # made a 150-model Newton solve several times slower (measured here)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1 if cells.n_models <= 500 else None, user_api="blas"):
        fitted, intervals = fit(df, cells, s)
        add_fit_meta(meta, fitted, intervals, s)
        table, win_prob = leaderboard_table(fitted, intervals, cells, level, anchor_pair, seed)
    if baseline is not None:
        table, lc_meta = add_win_rates(table, df, baseline, lc, lc_length, lc_difficulty, lc_rounds, seed, workers)
        meta["baseline"] = baseline
        meta.update(lc_meta)
        n_lc = int(table["lc_win_rate"].notna().sum())
        if lc and lc_difficulty is None and n_lc < LC_MIN_MODELS:
            meta["notes"].append(
                f"the length-controlled win rate estimates instruction difficulty from the other models in the "
                f"data; with {n_lc} model(s) that estimate is weak (LC can be off by several points). Rank more "
                "annotation files together for a stable LC."
            )
    meta["notes"] = meta["notes"] or None
    return Leaderboard(table=table, meta=meta, win_prob=win_prob)
