"""``referee.probe``: audit probes that plan new judge calls (``referee audit --probe ...``).

A probe run builds, from gold pairs, the requests a fair judge should answer the same way
(:mod:`referee.probing.perturb`) and sends them **through** :func:`referee.judging.run.judge` — so
the cache, the rate limits, the retries, the budgets and both presentation orders are the judge
engine's.  The runs, each one :func:`~referee.judging.run.judge` call:

* **main** (per mode): for every gold pair one prompt whose "models" are the gold winner
  (``other``), the gold loser (``target``), each text probe's edited loser (``target~bandwagon``,
  …), a padded copy of the winner (``other~padded``, for ``padding``) and an exact copy of it
  (``other~copy``, for ``identical``).  Pairwise, the pairs ``other`` vs each of them are judged in
  both orders; pointwise, every distinct response is scored once (the unedited ones are shared
  by every probe, so each probe costs one call per pair);
* **templates** (pairwise): the unedited pairs under each further template of ``templates``;
* **repeat**: the unedited pairs ``repeats − 1`` more times, each under its own cache identity (the
  backend's identity + ``|probe-repeat:R``), so a repeat is never answered by the cache of another
  while a re-run of the whole probe is answered by the cache.

The planned number of requests is announced before the first call; the judge engine's summary
(calls, cache hits) is in ``report.meta["usage"]``.  What is measured is in
:mod:`referee.probing.analyse`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from referee.errors import InputError
from referee.judging.spec import JudgeSpec, resolve
from referee.judging.spec import template as choose_template
from referee.judging.types import Backend, Usage, WrappedBackend
from referee.probing.analyse import analyse
from referee.probing.gold import gold_pairs
from referee.probing.perturb import EDITS, PROBES, TEXT_PROBES, GoldPair, check_probes, pad
from referee.probing.report import ProbeReport

if TYPE_CHECKING:
    import pandas as pd

    from referee.judging.engine import Progress
    from referee.judging.run import JudgeResult

MODES = ("pairwise", "pointwise", "both")
#: the templates the ``templates`` probe compares by default (the first is the main run's)
DEFAULT_TEMPLATES = ("pairwise", "pairwise-logprob", "pairwise-graded")
OTHER, TARGET = "other", "target"


def probe(
    pairs: Any,
    *,
    probes: Sequence[str] | str = TEXT_PROBES,
    judge_spec: JudgeSpec | dict[str, Any] | str | Path,
    mode: str = "pairwise",
    n: int | None = None,
    seed: int = 0,
    template: str | None = None,
    templates: Sequence[str] | str = DEFAULT_TEMPLATES,
    repeats: int = 3,
    cache: Any = True,
    concurrency: int = 8,
    rpm: float | None = None,
    tpm: float | None = None,
    retries: int = 6,
    max_calls: int | None = None,
    max_cost: float | None = None,
    level: float = 0.95,
    progress: Progress | None = None,
    announce: Callable[[str], None] | None = None,
) -> ProbeReport:
    """Probe a judge with edits that should not change its verdicts (see the module docstring).

    ``pairs``: gold pairs — a comparisons table or file(s) with ``prompt``, ``response_a``,
    ``response_b`` and a decisive ``winner`` (EvalBiasBench, LLMBar, any ``referee.read`` format).
    ``probes``: names from :data:`~referee.probing.perturb.PROBES` (a list or ``"a,b"``).
    ``mode``: ``pairwise``, ``pointwise`` or ``both`` (side by side).  ``n``: a seeded sample of that
    many pairs.  ``template``: the main template of its kind (the other mode takes its default);
    ``templates``: the pairwise templates the ``templates`` probe compares; ``repeats``: k of
    the ``repeat`` probe.  ``cache``, ``concurrency``, ``rpm``, ``tpm``, ``retries`` are the judge's;
    ``max_calls`` / ``max_cost`` budget the whole probe run (every run gets what the earlier ones
    left).  ``level``: the confidence level of every interval, and the FDR level 1 − ``level`` of
    the flags.  ``announce``: where the planned request count goes before the first call
    (default: standard error).  Raises :class:`~referee.errors.InputError` on bad input and when
    the judge answers none of the main run's requests (no report then).
    """
    names = check_probes(probes)
    if mode not in MODES:
        raise InputError(f"`mode` must be one of {', '.join(MODES)}, got {mode!r}", field="mode")
    if not 0 < level < 1:
        raise InputError(f"`level` must lie between 0 and 1, got {level}", field="level")
    if "repeat" in names and repeats < 2:
        raise InputError(f"`repeats` must be at least 2 for the repeat probe, got {repeats}", field="repeats")
    spec = resolve(judge_spec)
    modes = ["pairwise", "pointwise"] if mode == "both" else [mode]
    main_tpl = {m: _template_for(m, template, spec) for m in modes}
    tpl_list = _templates(templates, main_tpl.get("pairwise")) if "templates" in names and "pairwise" in modes else []
    gold, notes = gold_pairs(pairs, n=n, seed=seed)
    model = _model_name(spec)

    plan: list[tuple[str, str, str, int]] = []  # (mode, kind, template, repeat)
    for m in modes:
        plan.append((m, "main", main_tpl[m], 1))
        plan += [(m, "templates", t, 1) for t in tpl_list[1:] if m == "pairwise"]
        if "repeat" in names:
            plan += [(m, "repeat", main_tpl[m], r) for r in range(2, repeats + 1)]
    tables = {key: _inputs(gold, names, key[0], key[1], seed=seed, model=model) for key in plan}
    planned = sum(_requests(key[0], *tables[key]) for key in plan)
    say = announce or (lambda line: print(line, file=sys.stderr))
    say(f"probe: {len(gold)} gold pairs × {', '.join(names)} ({mode}): {planned} judge requests planned"
        + (" (cached answers are not sent again)" if cache not in (False, None) else ""))

    results: dict[tuple[str, str, str, int], JudgeResult] = {}
    total = Usage()
    stopped = None
    for key in plan:
        m, kind, tpl, rep = key
        if stopped is not None:
            notes.append(f"{kind} run ({m}, {tpl}{f', repeat {rep}' if rep > 1 else ''}) not run: {stopped}")
            continue
        outputs, pair_table = tables[key]
        res = _run(spec, outputs, pair_table, m, tpl, rep, seed=seed, cache=cache, concurrency=concurrency, rpm=rpm,
                   tpm=tpm, retries=retries, max_calls=None if max_calls is None else max_calls - total.calls,
                   max_cost=None if max_cost is None else max_cost - total.cost, progress=progress)
        if kind == "main":
            _check_answered(res, m, spec)
        results[key] = res
        total.add(res.usage)
        if res.usage.stopped_by:
            stopped = f"the {res.usage.stopped_by.replace('_', ' ')} budget is spent"
            notes.append(f"{kind} run ({m}, {tpl}) stopped by {res.usage.stopped_by}: "
                         f"{res.meta.get('not_run', 0)} requests not run")
    meta = {
        "judge": spec.label, "mode": mode, "modes": modes, "probes": names, "n_pairs": len(gold), "seed": seed,
        "level": level, "templates": {m: main_tpl[m] for m in modes}, "template_probe": tpl_list,
        "repeats": repeats if "repeat" in names else None, "notes": notes,
        "usage": {"planned": planned, "calls": total.calls, "cache_hits": total.cache_hits, "cost": total.cost},
        "categories": sorted({g.category for g in gold if g.category}),
    }  # fmt: skip
    return ProbeReport(analyse(results, names, gold, level=level), meta)


def _template_for(mode: str, template: str | None, spec: JudgeSpec) -> str:
    """The main template of ``mode``: ``template`` (or the spec's) when it is of that kind, else the default."""
    given = template or spec.template
    if given is not None:
        tpl = choose_template(given, None)
        if tpl.kind == mode:
            return str(given)
    return "pointwise-10" if mode == "pointwise" else "pairwise"


def _templates(templates: Sequence[str] | str, main: str | None) -> list[str]:
    """The templates probe's list: the main template first, then the others (pairwise, loaded to check)."""
    names = [t.strip() for t in (templates.split(",") if isinstance(templates, str) else templates) if t.strip()]
    out = list(dict.fromkeys([main or "pairwise", *names]))
    for name in out:
        tpl = choose_template(name, None)
        if tpl.kind != "pairwise":
            raise InputError(f"`templates`: {name!r} is a {tpl.kind} template; the templates probe compares "
                             "pairwise templates", field="templates")
        if tpl.reference == "required":
            raise InputError(f"`templates`: {name!r} needs reference answers, which gold pairs do not have",
                             field="templates")
    if len(out) < 2:
        raise InputError("`templates` must name at least one template besides the main one", field="templates")
    return out


def _model_name(spec: JudgeSpec) -> str:
    """The judge's model name for the ``self-id`` signature."""
    label = spec.model or spec.label
    return label.removeprefix("local:")


def _inputs(gold: list[GoldPair], names: list[str], mode: str, kind: str, *, seed: int,
            model: str) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """(outputs table, pairs table or None) of one run (see the module docstring)."""
    import pandas as pd

    records: list[dict[str, str]] = []
    pairs: list[dict[str, str]] = []
    for g in gold:
        def add(name: str, text: str, g: GoldPair = g) -> None:
            records.append({"prompt_id": g.pair_id, "prompt": g.prompt, "model": name, "response": text})

        def vs(name: str, tag: str, g: GoldPair = g) -> None:
            pairs.append({"prompt_id": g.pair_id, "model_x": OTHER, "model_y": name, "pair_id": f"{g.pair_id}|{tag}"})

        add(OTHER, g.winner)
        add(TARGET, g.loser)
        vs(TARGET, "orig")
        if kind != "main":
            continue
        for p in names:
            if p in EDITS:
                add(f"{TARGET}~{p}", EDITS[p](g, seed=seed, judge_model=model))
                vs(f"{TARGET}~{p}", p)
        if "padding" in names:
            add(f"{OTHER}~padded", pad(g.winner, seed=seed, key=f"{g.pair_id}/self"))
            vs(f"{OTHER}~padded", "padding-self")
        if "identical" in names and mode == "pairwise":
            add(f"{OTHER}~copy", g.winner)
            vs(f"{OTHER}~copy", "identical")
    out = pd.DataFrame(records, columns=["prompt_id", "prompt", "model", "response"])
    return out, (pd.DataFrame(pairs) if mode == "pairwise" else None)


def _requests(mode: str, outputs: pd.DataFrame, pairs: pd.DataFrame | None) -> int:
    """Judge requests of one run: both orders of every pair, or one per pointwise output."""
    return 2 * len(pairs) if mode == "pairwise" and pairs is not None else len(outputs)


class RepeatBackend(WrappedBackend):
    """A backend under another cache identity (``|probe-repeat:R``): the same calls, cached apart."""

    def __init__(self, inner: Backend, repeat: int) -> None:
        super().__init__(inner, f"{inner.identity}|probe-repeat:{repeat}")


def _run(spec: JudgeSpec, outputs: pd.DataFrame, pair_table: pd.DataFrame | None, mode: str, tpl: str, rep: int,
         **options: Any) -> JudgeResult:
    """One :func:`~referee.judging.run.judge` call (a repeat under its own backend identity)."""
    from referee.judging.run import judge

    backend = None
    if rep > 1 and spec.scorer is None:
        backend = RepeatBackend(spec.backend(), rep)
    try:
        return judge(outputs, judge_spec=spec, pairs=pair_table, mode=mode, template=tpl, backend=backend, **options)
    finally:
        close = getattr(backend.inner, "close", None) if backend is not None else None
        if close is not None:
            close()


def _check_answered(res: JudgeResult, mode: str, spec: JudgeSpec) -> None:
    """A main run in which the judge answered nothing ends the probe: no report pretends."""
    t = res.table
    if t.empty:
        raise InputError(f"the {mode} probe run judged nothing (a budget spent before the first call?): no report",
                         field="max_calls")
    if (t["parse_status"] == "ok").any():
        return
    errors = t["error"].dropna()
    if len(errors):
        raise InputError(f"the judge {spec.label!r} answered none of the {len(t)} {mode} requests (first error: "
                         f"{errors.iloc[0]}): no probe report", field="judge")
    raise InputError(f"no verdict of the judge {spec.label!r} could be read in {len(t)} {mode} answers (is the "
                     f"template right for this model?): no probe report", field="template")


__all__ = ["DEFAULT_TEMPLATES", "MODES", "PROBES", "RepeatBackend", "probe"]
