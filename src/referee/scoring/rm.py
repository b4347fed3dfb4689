"""``rm:`` embedding reward models: a frozen sentence encoder plus a Bradley–Terry head.

``train_rm(pairs, ...)`` reads chosen/rejected pairs (TRL ``prompt/chosen/rejected``, HH-RLHF
dialogues, HHH, RM-Bench, or any comparisons table with texts and a ``winner``) through
:func:`referee.io.read`, embeds ``prompt + "\\n\\n" + response`` with the encoder (cached on
disk, see :mod:`referee.scoring.encoder`), and fits a head (:mod:`referee.scoring.heads`).

Evaluation: ``holdout`` (a seeded share of *prompts* held out; the saved model is the one
fitted on the rest) or ``folds`` (k-fold cross-validation over prompts, out-of-fold accuracy;
the saved model is refitted on everything).  Splits are by ``prompt_id`` so pairs that share a
prompt never straddle train and test.  Inside every fit, 10 % of the training prompts are a
validation split for early stopping.  Accuracy counts a pair right when the chosen response
gets the higher reward (a tie in reward is wrong, as in RewardBench).  Its CI
(:func:`bootstrap_ci`) resamples whole prompts by default — the pairs of one prompt (RM-Bench's
3 × 3 style variants, say) are not independent — through :mod:`referee.resample`: the
accuracy is the ratio ``Σ_c m_c k_c / Σ_c m_c n_c`` of correct and evaluated pairs over
prompt clusters with multiplicities ``m ~ Multinomial(C; 1/C)`` (Field & Welsh 2007), and
the interval is BCa (Efron 1987; acceleration from the leave-one-prompt-out jackknife) or
percentile.  The report also gives the ``length`` baselines (prefer-longer /
prefer-shorter, characters) on the same pairs.

Saved directory: ``weights.npz`` (head parameters), ``config.json`` (``"kind": "referee-rm"``,
encoder, head, dims, referee version) and ``report.json``.  ``load_rm(DIR)`` /
``load_scorer("rm:DIR")`` read it back.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from referee import schema
from referee.errors import InputError, source_name
from referee.resample import bca_interval, bootstrap, percentile_interval
from referee.scoring.encoder import Encoder, join
from referee.scoring.heads import HEADS, Head, accuracy, fit

KIND = "referee-rm"
INTERVALS = ("bca", "percentile")
TIES = frozenset(schema.TIE_LABELS)
VAL_SHARE = 0.1
#: the fewest pairs with a preferred side (ties do not count) that ``train_rm`` accepts: below
#: this the held-out accuracy rests on one or two pairs and the model on almost nothing
MIN_PAIRS = 10


@dataclass
class TrainReport:
    """What ``train_rm`` measured.  ``accuracy``: held-out (or out-of-fold) accuracy with its CI.

    ``interval``: ``"bca"`` or ``"percentile"``; ``clusters``: the number of prompts the CI
    resampled (``None``: it resampled pairs).
    """

    n_pairs: int
    n_eval: int
    accuracy: float
    ci: tuple[float, float]
    method: str  # "holdout" | "5-fold" ...
    fold_accuracy: list[float] = field(default_factory=list)
    baselines: dict[str, float] = field(default_factory=dict)
    encoder: str = "minilm"
    head: str = "linear"
    seed: int = 0
    interval: str = "bca"
    clusters: int | None = None
    ties: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    truncated: int = 0
    encoded: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    out: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def mean_fold_accuracy(self) -> float:
        return float(np.mean(self.fold_accuracy)) if self.fold_accuracy else self.accuracy

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ci"] = list(self.ci)
        d["mean_fold_accuracy"] = self.mean_fold_accuracy
        return d

    def summary(self) -> str:
        units = f"{self.clusters} prompts" if self.clusters is not None else "pairs"
        lines = [f"{self.method}: accuracy {self.accuracy:.1%} [{self.ci[0]:.1%}, {self.ci[1]:.1%}] "
                 f"on {self.n_eval} pairs ({self.n_pairs} pairs in all; {self.encoder} + {self.head} head; "
                 f"95% {'BCa' if self.interval == 'bca' else 'percentile'} bootstrap over {units})"]
        if self.baselines:
            lines.append("length baselines: " + ", ".join(f"{k} {v:.1%}" for k, v in self.baselines.items()))
        lines.extend(self.notes)
        return "\n".join(lines)


# -- data -------------------------------------------------------------------------------------------
def load_pairs(pairs: Any, format: str | None = None) -> tuple[pd.DataFrame, dict[str, int]]:
    """Comparisons with texts: ``prompt, prompt_id, response_a, response_b, y`` (1 a won, 0 b, ½ tie)."""
    from referee.io import read

    df = pairs.copy() if isinstance(pairs, pd.DataFrame) else read(pairs, format=format)
    dropped = dict(df.attrs.get("dropped", {})) if hasattr(df, "attrs") else {}
    for col in ("response_a", "response_b"):
        if col not in df.columns:
            raise InputError("training a reward model needs the response texts (response_a / response_b); "
                             "these comparisons have none", path=source_name(pairs), field=col)
    if "winner" not in df.columns:
        raise InputError("training a reward model needs a winner per comparison", path=source_name(pairs), field="winner")
    prompt = df["prompt"].fillna("").astype(str) if "prompt" in df.columns else pd.Series("", index=df.index)
    if "prompt_id" in df.columns:
        pid = df["prompt_id"].astype(str)
    else:
        from referee.io.gold import text_id

        pid = prompt.map(text_id)
    winner = df["winner"].astype(str)
    y = np.select([winner == "model_a", winner == "model_b", winner.isin(TIES)], [1.0, 0.0, 0.5], np.nan)
    out = pd.DataFrame({"prompt": prompt.values, "prompt_id": pid.values,
                        "response_a": df["response_a"].fillna("").astype(str).values,
                        "response_b": df["response_b"].fillna("").astype(str).values, "y": y})
    keep = ~np.isnan(y)
    if (~keep).any():
        dropped["no_winner"] = dropped.get("no_winner", 0) + int((~keep).sum())
    same = (out["response_a"] == out["response_b"]).values & keep
    if same.any():
        dropped["identical_responses"] = dropped.get("identical_responses", 0) + int(same.sum())
    out = out[keep & ~same].reset_index(drop=True)
    if len(out) == 0:
        raise InputError(f"no comparisons to train on (dropped: {dropped or 'none'})", path=source_name(pairs),
                         field="winner")
    return out, dropped


def embed_pairs(df: pd.DataFrame, encoder: Encoder, progress: Callable[[int, int], None] | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
    texts = [join(p, r) for p, r in zip(df["prompt"], df["response_a"], strict=True)]
    texts += [join(p, r) for p, r in zip(df["prompt"], df["response_b"], strict=True)]
    emb = encoder.encode(texts, progress=progress)
    n = len(df)
    return emb[:n], emb[n:]


def bootstrap_ci(
    correct: np.ndarray,
    cluster: np.ndarray | None = None,
    *,
    rounds: int = 2000,
    seed: int = 0,
    level: float = 0.95,
    interval: str = "bca",
    workers: int = 2,
) -> tuple[float, float]:
    """Bootstrap CI of the accuracy ``mean(correct)``, resampling pairs or whole clusters.

    With ``k_c`` correct of ``n_c`` pairs in cluster ``c`` (every pair its own cluster when
    ``cluster`` is None), a round's accuracy is ``Σ m_c k_c / Σ m_c n_c`` for multiplicities
    ``m ~ Multinomial(C; 1/C)`` (:func:`referee.resample.bootstrap`; never 0/0: C picks of
    non-empty clusters).  ``interval="bca"`` (Efron 1987) takes its acceleration from the
    leave-one-cluster-out accuracies ``(K − k_c)/(N − n_c)``; ``"percentile"`` is the plain
    percentile interval (Efron & Tibshirani 1993, §13.3).  NaN for no pairs.
    """
    if interval not in INTERVALS:
        raise InputError(f"unknown interval {interval!r}; expected one of {', '.join(INTERVALS)}", field="interval")
    correct = np.asarray(correct, dtype=float)
    if len(correct) == 0:
        return (float("nan"), float("nan"))
    if cluster is None:
        codes = np.arange(len(correct))
    else:
        codes = np.unique(np.asarray(cluster), return_inverse=True)[1].reshape(-1)
        if len(codes) != len(correct):
            raise ValueError("cluster must label every pair")
    n_clusters = int(codes.max()) + 1
    k = np.bincount(codes, weights=correct, minlength=n_clusters)
    n = np.bincount(codes, minlength=n_clusters).astype(float)
    res = bootstrap(lambda m: (m @ k) / (m @ n), n_clusters, rounds=rounds, seed=seed, workers=workers)
    if interval == "percentile" or n_clusters < 2:
        lo, hi = percentile_interval(res.samples, level)
    else:
        jack = (k.sum() - k) / (n.sum() - n)
        lo, hi = bca_interval(res.samples, k.sum() / n.sum(), jack, level)
    return float(lo[0]), float(hi[0])


def length_baselines(df: pd.DataFrame) -> dict[str, float]:
    """Accuracy of prefer-longer and prefer-shorter (characters; equal lengths are wrong) on decided pairs."""
    from referee.text import text_lengths

    d = df[df["y"] != 0.5]
    la, lb = text_lengths(d["response_a"], "chars"), text_lengths(d["response_b"], "chars")
    a_won = d["y"].values == 1
    longer = np.where(a_won, la > lb, lb > la)
    shorter = np.where(a_won, la < lb, lb < la)
    return {"prefer-longer": float(longer.mean()), "prefer-shorter": float(shorter.mean())}


def _check_enough(df: pd.DataFrame, dropped: dict[str, int], *, folds: int | None, source: Any) -> None:
    """Refuse data too small to train on and still hold some out: at least :data:`MIN_PAIRS`
    pairs with a preferred side, on at least 2 prompts (``folds`` prompts for k-fold)."""
    path = source_name(source)
    decisive = df[df["y"] != 0.5]
    prompts = decisive["prompt_id"].nunique()
    left = f"{len(df)} usable pairs, {len(decisive)} with a preferred side, on {prompts} prompts"
    if dropped:
        left += f"; dropped: {', '.join(f'{k} {v}' for k, v in dropped.items())}"
    if len(decisive) < MIN_PAIRS or prompts < 2:
        raise InputError(f"too few preference pairs to train a reward model ({left}): it needs at least "
                         f"{MIN_PAIRS} pairs with a preferred side on at least 2 prompts, some of them held out "
                         "to measure its accuracy", path=path, field="pairs")
    if folds is not None and prompts < folds:
        raise InputError(f"{folds}-fold cross-validation needs at least {folds} prompts ({left})", path=path,
                         field="folds")


def _group_split(pid: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    """Boolean mask of rows whose prompt falls in a random ``share`` of prompts."""
    groups = np.unique(pid)
    rng.shuffle(groups)
    k = max(1, round(share * len(groups)))
    return np.isin(pid, groups[:k])


def _fit_with_val(ea: np.ndarray, eb: np.ndarray, y: np.ndarray, pid: np.ndarray, *, head: str, l2: float, hidden: int, seed: int) -> Head:
    rng = np.random.default_rng(seed + 1)
    val = _group_split(pid, VAL_SHARE, rng) if len(np.unique(pid)) >= 10 else np.zeros(len(y), bool)
    tr = ~val
    v = (ea[val], eb[val], y[val]) if val.any() else None
    return fit(ea[tr], eb[tr], y[tr], kind=head, l2=l2, hidden=hidden, val=v, seed=seed)


def _correct(h: Head, ea: np.ndarray, eb: np.ndarray, y: np.ndarray) -> np.ndarray:
    dec = y != 0.5
    d = h.reward(ea[dec]) - h.reward(eb[dec])
    result: np.ndarray = np.where(y[dec] == 1, d > 0, d < 0)
    return result


# -- training ---------------------------------------------------------------------------------------
def train_rm(
    pairs: Any,
    *,
    encoder: str = "minilm",
    head: str = "linear",
    holdout: float | None = 0.2,
    folds: int | None = None,
    seed: int = 0,
    out: str | Path | None = None,
    l2: float = 3e-4,
    hidden: int = 32,
    format: str | None = None,
    cache_dir: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    interval: str = "bca",
    cluster: str | None = "prompt_id",
    _encoder: Encoder | None = None,
) -> TrainReport:
    """Train an ``rm:`` reward model on preference pairs and (with ``out``) save it as a directory.

    The accuracy CI (:func:`bootstrap_ci`) is ``interval`` (``"bca"`` or ``"percentile"``) and
    resamples whole prompts (``cluster="prompt_id"``) or single pairs (``cluster=None``).
    """
    import time

    if head not in HEADS:
        raise InputError(f"unknown head {head!r}; expected one of {', '.join(HEADS)}", field="head")
    if interval not in INTERVALS:
        raise InputError(f"unknown interval {interval!r}; expected one of {', '.join(INTERVALS)}", field="interval")
    if cluster not in ("prompt_id", None):
        raise InputError(f"cannot cluster by {cluster!r}: the accuracy CI clusters by prompt_id or not at all",
                         field="cluster")
    if folds is not None and folds < 2:
        raise InputError("folds must be at least 2", field="folds")
    if folds is None and holdout is not None and not 0 < holdout < 1:
        raise InputError("holdout must be a share between 0 and 1", field="holdout")
    t0 = time.perf_counter()
    df, dropped = load_pairs(pairs, format=format)
    _check_enough(df, dropped, folds=folds, source=pairs)
    enc = _encoder or Encoder(encoder, cache_dir=cache_dir)
    t1 = time.perf_counter()
    ea, eb = embed_pairs(df, enc, progress)
    t2 = time.perf_counter()
    y, pid = df["y"].to_numpy(), df["prompt_id"].to_numpy()
    notes: list[str] = []
    if dropped.get("identical_responses"):
        notes.append(f"{dropped['identical_responses']} pairs with identical chosen and rejected responses dropped")
    empty = int(((df["response_a"].str.strip() == "") | (df["response_b"].str.strip() == "")).sum())
    if empty:
        notes.append(f"{empty} pairs with an empty response (scored on the prompt alone)")
    if enc.truncated:
        notes.append(f"{enc.truncated} texts longer than {enc.max_length} tokens truncated from the left")
        warnings.warn(notes[-1], stacklevel=2)
    ties = int((y == 0.5).sum())
    rng = np.random.default_rng(seed)
    fold_acc: list[float] = []
    if folds:
        groups = np.unique(pid)
        rng.shuffle(groups)
        fold_of = dict(zip(groups, np.arange(len(groups)) % folds, strict=True))
        f_id = np.array([fold_of[p] for p in pid])
        correct_all: list[np.ndarray] = []
        prompts_all: list[np.ndarray] = []
        eval_mask = np.zeros(len(y), bool)
        for k in range(folds):
            te = f_id == k
            h = _fit_with_val(ea[~te], eb[~te], y[~te], pid[~te], head=head, l2=l2, hidden=hidden, seed=seed + k)
            c = _correct(h, ea[te], eb[te], y[te])
            fold_acc.append(float(c.mean()) if len(c) else float("nan"))
            correct_all.append(c)
            prompts_all.append(pid[te][y[te] != 0.5])
            eval_mask |= te
        correct = np.concatenate(correct_all)
        eval_pid = np.concatenate(prompts_all)
        final = _fit_with_val(ea, eb, y, pid, head=head, l2=l2, hidden=hidden, seed=seed)
        method = f"{folds}-fold"
        eval_df = df
    else:
        share = holdout if holdout is not None else 0.2
        te = _group_split(pid, share, rng)
        final = _fit_with_val(ea[~te], eb[~te], y[~te], pid[~te], head=head, l2=l2, hidden=hidden, seed=seed)
        correct = _correct(final, ea[te], eb[te], y[te])
        eval_pid = pid[te][y[te] != 0.5]
        method = f"holdout {share:g}"
        eval_df = df[te]
    t3 = time.perf_counter()
    acc = float(correct.mean()) if len(correct) else float("nan")
    ci_cluster = eval_pid if cluster else None
    report = TrainReport(
        n_pairs=len(df), n_eval=len(correct), accuracy=acc,
        ci=bootstrap_ci(correct, ci_cluster, seed=seed, interval=interval), method=method,
        fold_accuracy=fold_acc, baselines=length_baselines(eval_df), encoder=encoder, head=head, seed=seed,
        interval=interval, clusters=len(np.unique(eval_pid)) if cluster else None,
        ties=ties, dropped=dropped, truncated=enc.truncated, encoded=enc.encoded,
        seconds={"read": t1 - t0, "encode": t2 - t1, "fit": t3 - t2}, notes=notes,
    )
    report.notes.append(f"train accuracy {accuracy(final, ea, eb, y):.1%}")
    if out is not None:
        save_rm(final, out, encoder=enc, report=report)
        report.out = str(out)
    return report


def save_rm(head: Head, out: str | Path, *, encoder: Encoder, report: TrainReport | None = None) -> Path:
    from referee import __version__

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    np.savez(out / "weights.npz", **head.params)  # type: ignore[arg-type]  # numpy stubs: **kwds might fill allow_pickle
    config = {"kind": KIND, "referee_version": __version__, "encoder": encoder.name, "encoder_id": encoder.id,
              "max_length": encoder.max_length, "dim": int(encoder.dim), "head": head.kind,
              "hidden": head.info.get("hidden"), "l2": head.info.get("l2"),
              "text": "prompt + '\\n\\n' + response", "fit": {k: v for k, v in head.info.items()
                                                          if isinstance(v, int | float | bool | None)}}
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    if report is not None:
        (out / "report.json").write_text(json.dumps(report.to_dict(), indent=2, default=str) + "\n")
    return out


# -- scoring ----------------------------------------------------------------------------------------
class RMScorer:
    """A trained ``rm:`` model: reward = head(encoder(prompt + response))."""

    def __init__(self, path: str | Path, *, cache_dir: str | Path | None = None,
                 encoder: Encoder | None = None) -> None:
        path = Path(path)
        cfg_path = path / "config.json"
        if not path.is_dir():
            raise InputError("no such reward-model directory", path=str(path))
        try:
            cfg = json.loads(cfg_path.read_text()) if cfg_path.is_file() else {}
        except (json.JSONDecodeError, UnicodeDecodeError):
            cfg = {}
        if not isinstance(cfg, dict) or cfg.get("kind") != KIND or not (path / "weights.npz").is_file():
            raise InputError(
                "not a referee reward model: expected config.json with \"kind\": \"referee-rm\" and weights.npz "
                "(made by `referee train-rm ... -o DIR`); for a Hugging Face reward model use hf:PATH",
                path=str(path),
            )
        self.path = path
        self.config = cfg
        self.name = f"rm:{path}"
        with np.load(path / "weights.npz") as z:
            params = {k: z[k] for k in z.files}
        self.head = Head(cfg["head"], params)
        self.encoder = encoder or Encoder(cfg.get("encoder", "minilm"), cache_dir=cache_dir)
        self.truncated = 0

    def score(self, prompts: Sequence[str], responses: Sequence[str], *, progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        texts = [join(p, r) for p, r in zip(prompts, responses, strict=True)]
        emb = self.encoder.encode(texts, progress=progress)
        self.truncated = self.encoder.truncated
        return self.head.reward(emb) if len(texts) else np.zeros(0)
