"""Reward heads on frozen embeddings, fitted with the Bradley–Terry loss (numpy + scipy L-BFGS).

A comparison of responses a and b with embeddings e_a, e_b and reward r(e) contributes

    −y·log σ(r_a − r_b) − (1 − y)·log σ(r_b − r_a)

with y = 1 when a won, 0 when b won, and **y = ½ for a tie**: a tie adds −½·log σ(d) − ½·log σ(−d),
the log-likelihood of a tie read as half a win for each side (the ``ties="half"`` convention of
``referee rank``); it pulls r_a and r_b together and never rewards either.  Plus L2
regularisation ``l2/2·‖θ‖²`` (biases excluded) on the mean loss.

Heads:

* ``linear``: r(e) = w·e.  The loss depends on embedding differences only, it is convex, and
  L-BFGS finds its optimum exactly in a few dozen iterations.
* ``mlp``: r(e) = v·tanh(W e + b) with ``hidden`` units (default 32), seeded initialisation.

Early stopping: ``fit`` records the parameters after every L-BFGS iteration and keeps the ones
with the best accuracy on a validation split (``patience`` iterations without improvement end
the fit).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, log_expit

HEADS = ("linear", "mlp")


@dataclass
class Head:
    kind: str
    params: dict[str, np.ndarray]
    info: dict[str, Any] = field(default_factory=dict)

    def reward(self, emb: np.ndarray) -> np.ndarray:
        emb = np.asarray(emb, dtype=np.float64)
        r: np.ndarray
        if self.kind == "linear":
            r = emb @ self.params["w"]
        else:
            r = np.tanh(emb @ self.params["W"].T + self.params["b"]) @ self.params["v"]
        return r


def _shapes(kind: str, dim: int, hidden: int) -> list[tuple[str, tuple[int, ...]]]:
    if kind == "linear":
        return [("w", (dim,))]
    return [("W", (hidden, dim)), ("b", (hidden,)), ("v", (hidden,))]


def _unpack(theta: np.ndarray, shapes: list[tuple[str, tuple[int, ...]]]) -> dict[str, np.ndarray]:
    out, i = {}, 0
    for name, shape in shapes:
        n = int(np.prod(shape))
        out[name] = theta[i:i + n].reshape(shape)
        i += n
    return out


def _loss_grad(theta: np.ndarray, kind: str, shapes: list[tuple[str, tuple[int, ...]]], ea: np.ndarray, eb: np.ndarray, y: np.ndarray,
               l2: float) -> tuple[float, np.ndarray]:
    p = _unpack(theta, shapes)
    n = len(y)
    if kind == "linear":
        d = (ea - eb) @ p["w"]
    else:
        ha, hb = np.tanh(ea @ p["W"].T + p["b"]), np.tanh(eb @ p["W"].T + p["b"])
        d = (ha - hb) @ p["v"]
    loss = -(y * log_expit(d) + (1 - y) * log_expit(-d)).mean()
    g_d = (expit(d) - y) / n  # dLoss/dd
    if kind == "linear":
        gw = (ea - eb).T @ g_d + l2 * p["w"]
        loss += 0.5 * l2 * float(p["w"] @ p["w"])
        return float(loss), gw
    gv = (ha - hb).T @ g_d + l2 * p["v"]
    ga = np.outer(g_d, p["v"]) * (1 - ha ** 2)  # dLoss/d(pre-activation of a)
    gb = -np.outer(g_d, p["v"]) * (1 - hb ** 2)
    gW = ga.T @ ea + gb.T @ eb + l2 * p["W"]
    gbias = ga.sum(0) + gb.sum(0)
    loss += 0.5 * l2 * (float((p["W"] ** 2).sum()) + float(p["v"] @ p["v"]))
    return float(loss), np.concatenate([gW.ravel(), gbias, gv])


def accuracy(head: Head, ea: np.ndarray, eb: np.ndarray, y: np.ndarray) -> float:
    """Share of decided comparisons (y ≠ ½) whose winner has the higher reward (equal rewards: wrong)."""
    decided = y != 0.5
    if not decided.any():
        return float("nan")
    d = head.reward(ea[decided]) - head.reward(eb[decided])
    return float(np.mean(np.where(y[decided] == 1, d > 0, d < 0)))


@dataclass
class _Best:
    """The parameters with the best validation accuracy so far, and iterations since they improved."""

    theta: np.ndarray
    acc: float = -1.0
    since: int = 0


def fit(ea: np.ndarray, eb: np.ndarray, y: np.ndarray, *, kind: str = "linear", l2: float = 1e-3,
        hidden: int = 32, val: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None, max_iter: int = 300,
        patience: int = 25, seed: int = 0) -> Head:
    """Fit a head on comparisons (``ea``, ``eb``: embeddings of the two sides; ``y``: 1 / 0 / ½)."""
    if kind not in HEADS:
        raise ValueError(f"unknown head {kind!r}; expected one of {', '.join(HEADS)}")
    ea, eb, y = (np.asarray(a, dtype=np.float64) for a in (ea, eb, y))
    dim = ea.shape[1]
    shapes = _shapes(kind, dim, hidden)
    rng = np.random.default_rng(seed)
    if kind == "linear":
        theta0 = np.zeros(dim)
    else:
        theta0 = np.concatenate([rng.normal(0, 1 / np.sqrt(dim), hidden * dim), np.zeros(hidden),
                                 rng.normal(0, 1 / np.sqrt(hidden), hidden)])
    trace: dict[str, Any] = {"best_iter": None, "best_val": None, "iters": 0}
    best = _Best(theta0.copy())

    class _Stop(Exception):
        pass

    def callback(xk: np.ndarray) -> None:
        trace["iters"] += 1
        if val is None:
            best.theta = xk.copy()
            return
        acc = accuracy(Head(kind, _unpack(xk, shapes)), *val)
        if acc > best.acc:
            best.theta, best.acc, best.since = xk.copy(), acc, 0
            trace["best_iter"], trace["best_val"] = trace["iters"], acc
        else:
            best.since += 1
            if best.since >= patience:
                raise _Stop

    try:
        res = minimize(_loss_grad, theta0, args=(kind, shapes, ea, eb, y, l2), jac=True, method="L-BFGS-B",
                       callback=callback, options={"maxiter": max_iter})
        if val is None:
            best.theta = res.x
        trace["converged"] = bool(res.success)
    except _Stop:
        trace["converged"] = False
        trace["stopped_early"] = True
    theta = best.theta
    trace["train_loss"] = _loss_grad(theta, kind, shapes, ea, eb, y, 0.0)[0]
    return Head(kind, {k: v.copy() for k, v in _unpack(theta, shapes).items()},
                {"l2": l2, "hidden": hidden if kind == "mlp" else None, **trace})
