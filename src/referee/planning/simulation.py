"""``referee plan simulate``: choose a plan before spending money.

For each seed, a round-robin candidate set (``prompts`` prompts × every pair of models) is
answered by a :class:`~referee.planning.oracle.SimulatedJudge` over the true strengths — from
:func:`referee.sim.true_strengths`, from a leaderboard (``truth``: ours, ``{model: rating}``,
``{model: {"rating": …}}`` or the Chatbot Arena catalogue's ``{category: {model: {...}}}``) —
or by a :class:`~referee.planning.oracle.Replay` of a recorded verdict table (``replay``),
whose truth is the Bradley–Terry ranking from *all* its verdicts.  Each plan runs once per
seed up to the largest budget, and the ranking is read off at every budget on the way (the
planners never look at the budget while choosing, so a run to 25% passes through exactly the
run to 10%; knockout starts only whole brackets, so it may stop short of a budget).  The
ranking is the Bradley–Terry fit of the outcomes so far (``referee rank``'s estimate: ties
worth ½, the weak prior only while some model never won or never lost).

Measures per run: Kendall τ against the true strengths, ``top1`` (the leader is the true
leader) and ``topk`` (share of the true top k among the estimated top k).  The summary gives,
per plan and budget, the median and the 10th–90th percentiles over seeds, and for each plan
the mean paired difference in τ against ``random`` on the same seeds with a 95% percentile
bootstrap interval over seeds.
"""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from referee.errors import InputError
from referee.planning.candidates import CandidateSet
from referee.planning.factory import PLANNERS, make_planner, parse_budget
from referee.planning.oracle import Replay, SimulatedJudge
from referee.planning.state import SCALE

PLANS = ("random", "active", "swiss", "knockout")


# -- truths -------------------------------------------------------------------------------------------
def read_truth(path: str | Path, *, category: str = "full") -> pd.Series:
    """True ratings by model from a leaderboard JSON (see the module docstring), as a Series."""
    p = Path(path)
    try:
        opener = gzip.open if p.name.endswith(".gz") else open
        with opener(p, "rt", encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        raise InputError("no such file", path=str(path)) from None
    except (OSError, ValueError) as err:
        raise InputError(f"not a JSON leaderboard: {err}", path=str(path)) from None
    out: dict[str, float] = {}
    if isinstance(data, dict) and isinstance(data.get("models"), list):  # ours (referee rank -o board.json)
        for n, row in enumerate(data["models"], 1):
            if not isinstance(row, dict) or "model" not in row or not _number(row.get("rating")):
                raise InputError(f"entry {n} of 'models' needs 'model' and a numeric 'rating'", path=str(path),
                                 field="models")
            out[str(row["model"])] = float(row["rating"])
    elif isinstance(data, dict) and data and all(isinstance(v, dict) and not _rating(v) for v in data.values()):
        if category not in data:
            raise InputError(f"no category {category!r}; categories: {', '.join(list(data)[:10])}", path=str(path),
                             field="category")
        return read_truth_dict(data[category], str(path))
    elif isinstance(data, dict):
        return read_truth_dict(data, str(path))
    else:
        raise InputError("expected {model: rating}, {model: {rating: …}} or referee's leaderboard JSON",
                         path=str(path))
    return _validated(out, str(path))


def read_truth_dict(data: dict[str, Any], path: str = "<truth>") -> pd.Series:
    out: dict[str, float] = {}
    for model, value in data.items():
        rating = value.get("rating") if isinstance(value, dict) else value
        if not isinstance(rating, int | float) or not _number(rating):
            raise InputError(f"model {model!r} has no numeric rating", path=path, field=str(model))
        out[str(model)] = float(rating)
    return _validated(out, path)


def _rating(v: dict[str, Any]) -> bool:
    return "rating" in v


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _validated(ratings: dict[str, float], path: str) -> pd.Series:
    if len(ratings) < 2:
        raise InputError("a truth needs at least two models with ratings", path=path)
    return pd.Series(ratings, dtype=float).sort_values(ascending=False)


def spaced(ratings: pd.Series, n: int) -> pd.Series:
    """``n`` models at evenly spaced ranks of a leaderboard (best and worst included)."""
    r = ratings.sort_values(ascending=False)
    if n >= len(r):
        return r
    idx = np.unique(np.round(np.linspace(0, len(r) - 1, n)).astype(int))
    return r.iloc[idx]


# -- results ------------------------------------------------------------------------------------------
@dataclass
class PlanSimulation:
    """Per-run records (``runs``) and their summary; renders as text, JSON/CSV and HTML."""

    runs: pd.DataFrame
    settings: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    def summary(self) -> pd.DataFrame:
        """Per (plan, budget): calls, median τ with 10–90% band, top-1 and top-k, and the paired
        difference in τ against ``random`` (mean and 95% bootstrap interval over seeds)."""
        runs = self.runs
        rows = []
        for (plan, budget), g in runs.groupby(["plan", "budget"], sort=False):
            row: dict[str, Any] = {
                "plan": plan, "budget": budget, "calls": float(g["calls"].median()), "seeds": len(g),
                "tau": float(g["tau"].median()), "tau_q10": float(g["tau"].quantile(0.1)),
                "tau_q90": float(g["tau"].quantile(0.9)), "top1": float(g["top1"].mean()),
                "topk": float(g["topk"].mean()),
                "vs_random": math.nan, "vs_random_low": math.nan, "vs_random_high": math.nan,
            }
            base = runs[(runs["plan"] == "random") & (runs["budget"] == budget)]
            if plan != "random" and len(base):
                d = (g.set_index("seed")["tau"] - base.set_index("seed")["tau"]).dropna().to_numpy()
                if d.size:
                    boot = np.random.default_rng(0).choice(d, (2000, d.size)).mean(axis=1)
                    row.update(vs_random=float(d.mean()), vs_random_low=float(np.quantile(boot, 0.025)),
                               vs_random_high=float(np.quantile(boot, 0.975)))
            rows.append(row)
        return pd.DataFrame(rows)

    def to_text(self) -> str:
        s = self.summary()
        lines = [f"{self.settings.get('source', '')}; {self.settings.get('seeds')} seeds; τ = Kendall τ vs the truth "
                 f"(median, 10–90% over seeds); top-{self.settings.get('k')} = share of the true top "
                 f"{self.settings.get('k')} found"]
        lines.append(f"{'plan':<9} {'budget':>7} {'calls':>9} {'τ':>6} {'10–90%':>13} {'top-1':>6} "
                     f"{'top-k':>6}  τ − random [95% CI]")
        for r in s.to_dict("records"):
            diff = "" if math.isnan(r["vs_random"]) else (
                f"{r['vs_random']:+.3f} [{r['vs_random_low']:+.3f}, {r['vs_random_high']:+.3f}]")
            lines.append(f"{r['plan']:<9} {r['budget']:>7} {r['calls']:>9,.0f} {r['tau']:>6.3f} "
                         f"{r['tau_q10']:>6.3f}–{r['tau_q90']:<6.3f} {r['top1']:>6.2f} {r['topk']:>6.2f}  {diff}")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def to_html(self, path: str | Path | None = None) -> str:
        from referee.report.plan import plan_html

        html = plan_html(self.summary(), self.runs, self.settings, self.notes)
        if path is not None:
            Path(path).write_text(html, encoding="utf-8")
        return html

    def write(self, path: str | Path) -> Path:
        """By extension: ``.html`` (the report), ``.json`` (settings, summary, runs), ``.csv`` (runs)."""
        p = Path(path)
        suffix = p.suffix.lower()
        if suffix in (".html", ".htm"):
            self.to_html(p)
        elif suffix == ".json":
            doc = {"settings": self.settings, "notes": self.notes,
                   "summary": json.loads(self.summary().to_json(orient="records")),
                   "runs": json.loads(self.runs.to_json(orient="records"))}
            p.write_text(json.dumps(doc, indent=1), encoding="utf-8")
        elif suffix == ".csv":
            self.runs.to_csv(p, index=False)
        else:
            raise InputError("write the simulation as .html, .json or .csv", path=str(p), field="output")
        return p


# -- the simulation -----------------------------------------------------------------------------------
def _bt_theta(cs: CandidateSet, n: np.ndarray, s: np.ndarray) -> np.ndarray:
    """The Bradley–Terry fit (as ``referee rank``) from per-pair counts and pair_i's summed score."""
    from referee.planning.state import PlanState

    st = PlanState(cs, len(cs))
    st.W[cs.pair_i, cs.pair_j] = n
    st.W[cs.pair_j, cs.pair_i] = n
    st.S[cs.pair_i, cs.pair_j] = s
    st.S[cs.pair_j, cs.pair_i] = n - s
    st.observed = int(n.sum())
    return st.fit().theta


def _measures(theta_hat: np.ndarray, theta: np.ndarray, k: int) -> dict[str, float]:
    from scipy.stats import kendalltau

    tau = float(kendalltau(theta_hat, theta).statistic)
    est, true = np.argsort(-theta_hat, kind="stable"), np.argsort(-theta, kind="stable")
    return {"tau": tau, "top1": float(est[0] == true[0]), "topk": len(set(est[:k]) & set(true[:k])) / k}


def _run(planner_name: str, cs: CandidateSet, answer: Callable[[Any], Any], theta: np.ndarray, shares: list[float],
         budgets: list[str], *, seed: int, k: int, batch: int, cpc: int, top_k: int | None, until: str | None,
         level: float, rounds: int | None) -> list[dict[str, Any]]:
    total = len(cs)
    stops = [max(1, math.floor(sh / 100 * total * cpc / cpc + 1e-9)) for sh in shares]
    planner = make_planner(planner_name, cs, budget=f"{max(shares)}%", calls_per_comparison=cpc, seed=seed,
                           top_k=top_k, until=until, level=level, batch=batch, rounds=rounds)
    out = []
    for stop, label, share in sorted(zip(stops, budgets, shares, strict=True)):
        while planner.state.spent < stop and not planner.finished:
            cands = planner.propose(min(batch, stop - planner.state.spent))
            if not cands:
                break
            planner.observe(answer(cands))
        theta_hat = planner.state.fit().theta
        rec = {"plan": planner_name, "budget": label, "share": share, "seed": seed,
               "comparisons": planner.state.spent, "calls": planner.state.spent * cpc,
               "finished": planner.reason or ""}
        rec.update(_measures(theta_hat, theta, k))
        out.append(rec)
    return out


def simulate(
    *,
    truth: str | Path | pd.Series | dict[str, float] | None = None,
    replay: Any = None,
    plans: Sequence[str] | str = ("random", "active", "swiss"),
    budget: Sequence[str | int | float] | str = ("5%", "10%", "25%"),
    seeds: int = 20,
    models: int = 20,
    prompts: int = 120,
    spread: float = 1.0,
    ties: str = "davidson",
    first_position: float = 0.2,
    top_k: int | None = None,
    until: str | None = None,
    level: float = 0.95,
    batch: int = 64,
    rounds: int | None = None,
    calls_per_comparison: int = 2,
    category: str = "full",
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> PlanSimulation:
    """Simulate plans on a known truth or replay recorded verdicts (see the module docstring).

    ``truth``: a leaderboard JSON path or ``{model: rating}`` (``models`` evenly spaced ranks of
    it are used when it has more); ``None``: ``models`` strengths from
    :func:`referee.sim.true_strengths` (sd ``spread`` logits), redrawn per seed.  ``replay``:
    a verdict table (paths or a DataFrame, read by :func:`referee.read`) instead.  ``budget``:
    shares (``"10%"``) or judge calls (``5000``) per plan.  ``ties``: ``davidson`` (ν = ½),
    ``bt`` (τ = 0.3) or ``none``; ``first_position``: the judge's first-position bias in logits
    (both orders are judged).  ``top_k``: k of the top-k measure (default 3) and the planners'
    ``top_k``.  Returns a :class:`PlanSimulation`.
    """
    plan_list = [p.strip() for p in (plans.split(",") if isinstance(plans, str) else plans) if p.strip()]
    for p in plan_list:
        if p not in PLANNERS:
            raise InputError(f"unknown plan {p!r}; choose from {', '.join(PLANS)}", field="plans")
    if not plan_list:
        raise InputError("name at least one plan", field="plans")
    labels = [b.strip() for b in (budget.split(",") if isinstance(budget, str) else map(str, budget)) if b.strip()]
    if not labels:
        raise InputError("name at least one budget", field="budget")
    if seeds < 1:
        raise InputError("seeds must be at least 1", field="seeds")
    if ties not in ("davidson", "bt", "none"):
        raise InputError("ties must be davidson, bt or none", field="ties")
    if truth is not None and replay is not None:
        raise InputError("give a truth or a replay, not both", field="truth")
    k = top_k or 3
    settings: dict[str, Any] = {"plans": plan_list, "budgets": labels, "seeds": seeds, "k": k, "ties": ties,
                                "first_position": first_position, "batch": batch, "top_k": top_k, "until": until,
                                "calls_per_comparison": calls_per_comparison, "seed": seed}
    notes: list[str] = []
    rep: Replay | None = None
    names: list[str]
    fixed: np.ndarray | None = None
    if replay is not None:
        import referee

        table = replay if isinstance(replay, pd.DataFrame) else referee.read(replay)
        rep = Replay(table, seed=seed)
        names = list(rep.cs.models)
        n_cand = len(rep.cs)
        w_all = np.bincount(rep.cs.pair, minlength=rep.cs.n_pairs).astype(float)
        s_lo = np.where(rep.cs.a < rep.cs.b, rep.score, 1 - rep.score)
        fixed = _bt_theta(rep.cs, w_all, np.bincount(rep.cs.pair, weights=s_lo, minlength=rep.cs.n_pairs))
        settings["source"] = (f"replay of {rep.rows:,} verdicts ({n_cand:,} prompt × pair cells, {len(names)} models); "
                              "truth = the ranking from all verdicts")
        settings["models"], settings["prompts"] = len(names), len(rep.cs.prompts)
    else:
        if truth is not None:
            ratings = truth if isinstance(truth, pd.Series) else (
                read_truth_dict(truth) if isinstance(truth, dict) else read_truth(truth, category=category))
            picked = spaced(ratings, models)
            if len(picked) < len(ratings):
                notes.append(f"{len(picked)} of the truth's {len(ratings)} models, at evenly spaced ranks")
            names = [str(m) for m in picked.index]
            fixed = (picked.to_numpy(dtype=float) - picked.mean()) / SCALE
            settings["source"] = f"truth from {truth if not isinstance(truth, pd.Series | dict) else 'ratings'}"
        else:
            names = [f"model-{i:03d}" for i in range(models)]
            settings["source"] = f"simulated strengths (referee.sim, sd {spread} logits)"
        settings["models"], settings["prompts"] = len(names), prompts
        if len(names) < 2:
            raise InputError("a simulation needs at least two models", field="models")
        n_cand = prompts * len(names) * (len(names) - 1) // 2
    shares: list[float] = []
    for b in labels:
        v, is_share = parse_budget(b)
        shares.append(v if is_share else min(100.0, v / (n_cand * calls_per_comparison) * 100))
    settings["source"] += f"; {n_cand:,} candidate comparisons ({n_cand * calls_per_comparison:,} calls round robin)"
    records: list[dict[str, Any]] = []
    answer: Replay | SimulatedJudge
    total = seeds * len(plan_list)
    done = 0
    for s in range(seed, seed + seeds):
        if rep is not None:
            assert fixed is not None
            cs, theta, answer = CandidateSet(rep.cs.prompts, rep.cs.models, rep.cs.prompt, rep.cs.a, rep.cs.b,
                                             seed=s), fixed, rep
        else:
            if fixed is None:
                from referee.sim import true_strengths

                theta = true_strengths(len(names), np.random.default_rng([s, 0x7A0]), spread)
            else:
                theta = fixed
            cs = CandidateSet.round_robin([f"p{i}" for i in range(prompts)], names, seed=s)
            answer = SimulatedJudge(cs, theta, seed=s, ties=ties, first_position=first_position)
        for plan in plan_list:
            records += _run(plan, cs, answer, theta, shares, labels, seed=s, k=k, batch=batch,
                            cpc=calls_per_comparison, top_k=top_k, until=until, level=level,
                            rounds=rounds if plan == "swiss" else None)
            done += 1
            if progress:
                progress(done, total)
    return PlanSimulation(pd.DataFrame(records), settings, notes)
