"""Panels: several judges in one run, concurrently, through the same engine and cache — and their jury.

A panel spec is a mapping with a ``judges`` list (a YAML file or a dict)::

    judges:
      - {url: http://localhost:8000/v1, model: qwen2.5-7b}
      - {url: https://api.openai.com/v1, model: gpt-4o-mini, key_env: OPENAI_API_KEY}
      - {judge: local}           # the embedded model
      - {judge: length}          # a reward model (no LLM call)
    temperature: 0               # other keys: defaults for every judge

Each judge is one :func:`referee.judge` run on the same games (its own thread and event loop, the
shared cache), so an HTTP judge, the local model and a scorer progress side by side and a re-run
makes 0 calls.  Two judges may not share a label (``name`` tells them apart).

What a panel run returns and writes (``output=verdicts.jsonl``): a :class:`PanelResult` whose
``table`` holds **every judge's game rows** (``judge`` tells them apart: what ``referee audit``
and ``referee jury`` read) → ``verdicts.jsonl``; its ``reconciled`` pairs per judge →
``verdicts.reconciled.jsonl``; with ``jury=METHOD`` the jury's table (:func:`~referee.judging.jury.jury`
over the games, ``judge = jury:METHOD``, one row per pair) in :attr:`PanelResult.jury` →
``verdicts.jury.jsonl``.  The files are written when every judge has finished (the answers are
in the cache as they arrive, so a killed run loses nothing but time).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from referee.errors import InputError
from referee.judging.output import JudgeResult, VerdictWriter
from referee.judging.spec import JudgeSpec, is_scorer_spec, parse_local
from referee.judging.types import Usage

if TYPE_CHECKING:
    import pandas as pd


class PanelResult(JudgeResult):
    """A :class:`JudgeResult` of several judges; ``jury`` the jury's table (None without ``jury=``);
    ``members`` each judge's own result, by label."""

    def __init__(self, table: pd.DataFrame, usage: Usage, meta: dict[str, Any], reconciled: pd.DataFrame | None,
                 members: dict[str, JudgeResult], jury: pd.DataFrame | None) -> None:
        super().__init__(table, usage, meta, reconciled)
        self.members = members
        self.jury = jury

    def summary(self) -> str:
        lines = [f"panel of {len(self.members)} judges: " + super().summary()]
        lines += [f"  {label}: {r.summary()}" for label, r in self.members.items()]
        info = self.meta.get("jury")
        if info:
            lines.append(f"jury:{info['method']}: {info.get('pairs')} pairs")
            for judge, w in (info.get("weights") or {}).items():
                ci = "" if w.get("ci_low") is None else f" [{w['ci_low']:.3f}, {w['ci_high']:.3f}]"
                lines.append(f"  {judge}: weight {w['weight']:.3f}{ci}")
        return "\n".join(lines)


def panel_data(judge_spec: Any) -> dict[str, Any] | None:
    """The panel mapping of ``judge_spec`` (a dict or YAML path with a ``judges`` list), else None."""
    if isinstance(judge_spec, dict):
        return judge_spec if "judges" in judge_spec else None
    if not isinstance(judge_spec, str | Path) or (isinstance(judge_spec, str) and (
            judge_spec.startswith("local") or is_scorer_spec(judge_spec))):
        return None
    path = Path(judge_spec)
    if path.suffix.lower() not in (".yaml", ".yml", ".json") or not path.is_file():
        return None
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None  # JudgeSpec.from_config says what is wrong
    return data if isinstance(data, dict) and "judges" in data else None


def load_panel(path: str | Path, **overrides: Any) -> dict[str, Any] | None:
    """A panel config read from ``path`` with the overrides that are not None as defaults of every
    judge (what ``referee judge --judge-config panel.yaml --temperature 0.7`` builds); None when
    ``path`` is no panel."""
    data = panel_data(path)
    if data is None:
        return None
    return {**data, **{k: v for k, v in overrides.items() if v is not None}}


def panel_specs(data: dict[str, Any], source: str | None = None) -> list[JudgeSpec]:
    """The judges of a panel mapping: each entry's fields over the panel's defaults."""
    judges = data.get("judges")
    if not isinstance(judges, list) or not judges:
        raise InputError("a panel lists its judges under `judges`: a non-empty list of judge settings",
                         path=source, field="judges")
    defaults = {k: v for k, v in data.items() if k != "judges"}
    specs: list[JudgeSpec] = []
    for i, entry in enumerate(judges):
        if isinstance(entry, str):
            entry = {"judge": entry}
        if not isinstance(entry, dict):
            raise InputError(f"judge {i + 1} of the panel is not a mapping of settings", path=source, field="judges")
        merged = {**defaults, **entry}
        shorthand = merged.pop("judge", None)
        spec = JudgeSpec.from_dict(merged, source=source)
        if shorthand is not None:
            if not is_scorer_spec(shorthand):
                parse_local(str(shorthand))  # refuses anything else with one message
            spec = spec.updated(judge=str(shorthand))
        specs.append(spec)
    labels = [s.label for s in specs]
    twice = sorted({x for x in labels if labels.count(x) > 1})
    if twice:
        raise InputError(f"two judges of the panel are both called {twice[0]!r}: give one a `name`", path=source,
                         field="judges")
    return specs


def run_panel(args: dict[str, Any], judge: Callable[..., JudgeResult], *, samples: int, jury: str | None,
              gold: Any) -> PanelResult:
    """``judge`` (:func:`referee.judge`) with ``args`` once per judge of the panel ``args["judge_spec"]``,
    concurrently."""
    from referee.judging.jury import METHODS
    from referee.judging.jury import jury as jury_fn

    spec_in = args["judge_spec"]
    data = panel_data(spec_in)
    assert data is not None
    specs = panel_specs(data, str(spec_in) if isinstance(spec_in, str | Path) else None)
    if jury is not None and jury not in METHODS:
        raise InputError(f"`jury` must be one of {', '.join(METHODS)}, got {jury!r}", field="jury")
    for name in ("backend", "ray"):
        if args.get(name) is not None:
            raise InputError(f"a panel builds each judge's backend itself: it cannot take `{name}`", field=name)
    output = args.get("output")
    checked = VerdictWriter(output, "pairwise" if jury else (args.get("mode") or "pairwise"))
    member_args = args | {"output": None, "progress": None}

    def one(spec: JudgeSpec) -> JudgeResult:
        k = samples if spec.scorer is None else 1
        return judge(**(member_args | {"judge_spec": spec, "samples": k}))

    with ThreadPoolExecutor(max_workers=len(specs), thread_name_prefix="referee-panel") as pool:
        futures = [pool.submit(one, s) for s in specs]
        results = [f.result() for f in futures]  # the first failure (in panel order) is raised
    import pandas as pd

    members = {s.label: r for s, r in zip(specs, results, strict=True)}
    modes = {r.meta.get("mode") for r in results}
    if len(modes) > 1:
        raise InputError(f"the panel's judges ran in different modes ({', '.join(sorted(map(str, modes)))}): "
                         "give them one `template` kind", field="judges")
    mode = modes.pop()
    table = pd.concat([r.table for r in results], ignore_index=True)
    recs = [r.reconciled for r in results if r.reconciled is not None]
    reconciled = pd.concat(recs, ignore_index=True) if recs else None
    usage = Usage()
    for r in results:
        usage.add(r.usage)
    from referee.judging.samples import write_outputs

    meta: dict[str, Any] = {"mode": mode, "judge": "panel", "panel": list(members),
                            "n_requests": sum(r.meta.get("n_requests", 0) for r in results),
                            "not_run": sum(r.meta.get("not_run", 0) for r in results),
                            "notes": [f"{label}: {n}" for label, r in members.items() for n in r.meta.get("notes") or []]}
    jury_table = None
    if jury is not None:
        if mode != "pairwise":
            raise InputError("a jury combines pairwise verdicts: `jury` needs a pairwise panel", field="jury")
        jury_table = jury_fn([table], method=jury, gold=gold, seed=int(args.get("seed") or 0))
        meta["jury"] = dict(jury_table.attrs.get("jury", {})) | {"pairs": len(jury_table)}
    result = PanelResult(table, usage, meta, reconciled, members, jury_table)
    if checked.output is not None:
        extra = {"jury": jury_table} if jury_table is not None else None
        meta["outputs"] = write_outputs(result, checked.output, extra)
    return result


def delegate(args: dict[str, Any], judge: Callable[..., JudgeResult]) -> JudgeResult | None:
    """What :func:`referee.judge` hands over (``args``: its arguments): a panel, a jury or
    ``samples != 1``; None when it is none of these (the run is an ordinary one)."""
    samples, jury, gold = args.pop("samples"), args.pop("jury"), args.pop("gold")
    if panel_data(args["judge_spec"]) is not None:
        return run_panel(args, judge, samples=samples, jury=jury, gold=gold)
    if jury is not None:
        raise InputError("`jury` combines the judges of a panel: pass a `judge_spec` that lists `judges`",
                         field="jury")
    if gold is not None:
        raise InputError("`gold` weighs a panel's jury: it needs `jury='weighted'` and a panel", field="gold")
    if samples == 1:
        return None
    from referee.judging.samples import run_samples

    return run_samples(args, samples, judge)


__all__ = ["PanelResult", "delegate", "load_panel", "panel_data", "panel_specs", "run_panel"]
