"""The sections that ``referee demo`` adds to its leaderboard page
(:func:`referee.report.html.leaderboard_html`'s ``extra_sections``): the judge and its position
bias, the contestants, sample verdicts, and the run — rendered from the macros of
``templates/report/demo.html.j2`` (autoescaped)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from referee.report.html import environment


def pct(x: float | None) -> str:
    """A share as a whole percentage ('65%'), 'n/a' when missing."""
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.0%}"


def short(text: Any, n: int = 220) -> str:
    """``text`` as a string of at most ``n`` characters (the last an ellipsis when cut); '' when missing."""
    s = "" if text is None or (isinstance(text, float) and math.isnan(text)) else str(text)
    return s if len(s) <= n else s[: n - 1] + "…"


def demo_sections(
    stats: Mapping[str, Any],
    contestants: Sequence[Mapping[str, Any]],
    samples: Sequence[Mapping[str, Any]],
    run: Mapping[str, Any],
    reference: str,
    recovery: Mapping[str, Any] | None = None,
    texts: Sequence[str] = (),
) -> list[dict[str, str]]:
    """The demo's sections as ``{"title", "html"}``.

    ``stats``: the judge's position statistics (``games``, ``parsed``, ``unparsed``, ``failed``,
    ``pairs_both_orders``, ``consistency``, ``first_position_rate``, ``mean_p_first``);
    ``contestants``: the ladder's rungs, ``name``, ``true_rank``, ``how``, ``mean_chars``
    (and ``mean_overlap``, the mean prompt overlap, when known) each;
    ``samples``: games (``prompt``, ``order``, ``model_a``/``response_a``, ``model_b``/``response_b``,
    ``verdict``, ``parse_status``, ``raw_completion``, ``prob_a``); ``run``: ``judge``, ``template``,
    ``generator``, ``n_prompts``, ``timings``, ``gen_usage`` and ``judge_usage`` (``calls``,
    ``cache_hits``), ``tokens``; ``reference``: a published figure to compare the judge with;
    ``recovery``: ``ladder`` (best first), ``tau_values`` (the values τ can take) and ``judges``
    (:func:`referee.demo.recovery` rows) -- with ``texts``, one sentence per judge, it makes the
    first section, "Did referee recover the known order?".
    """
    module = environment().get_template("demo.html.j2").make_module({"pct": pct, "short": short})

    def render(macro: str, *args: Any) -> str:
        return str(getattr(module, macro)(*args))

    first = [{"title": "Did referee recover the known order?", "html": render("recovery", recovery, texts)}] if recovery else []
    return [
        *first,
        {"title": "The judge and its position bias", "html": render("judge", stats, run, reference)},
        {"title": "Contestants", "html": render("contestants", contestants, run)},
        {"title": "Sample verdicts", "html": render("samples", samples)},
        {"title": "Run", "html": render("run_table", run)},
    ]
