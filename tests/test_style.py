"""Style control: feature extraction and the contextual Bradley–Terry fit."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from _sim import draw, names, pairs, strengths, to_cells
from referee.errors import InputError
from referee.ranking.style import (
    fit_contextual,
    fit_contextual_bt,
    fit_contextual_davidson,
    fit_contextual_rao_kupper,
    normalised_difference,
    standardise,
    style_control,
    style_features,
    text_counts,
)
from referee.ranking.ties import fit_davidson, fit_rao_kupper
from referee.schema import WINNERS

MARKDOWN_TEXT = """# Title

Some **bold** and __also bold__ text.

## Sub
- item one
* item two
+ item three
  1. nested numbered
10. ten

```python
# not a header
- not a list
**not bold**
```
####### seven hashes is not a header
#no space
-no space
**unclosed bold
***triple*** and ****quad****"""


def test_markdown_counts_by_hand():
    got = text_counts(pd.Series([MARKDOWN_TEXT, "", None, "héllo wörld 你好", "# H\r\n- x\r\n"], dtype=object))
    assert got.loc[0, "headers"] == 2  # '# Title', '## Sub'
    assert got.loc[0, "lists"] == 5  # -, *, +, '  1.', '10.'
    assert got.loc[0, "bold"] == 4  # **bold**, __also bold__, **triple**, **quad**
    assert got.loc[0, "tokens"] == len(MARKDOWN_TEXT.split())
    assert got.loc[0, "chars"] == len(MARKDOWN_TEXT)
    assert got.loc[1].tolist() == [0, 0, 0, 0, 0] and got.loc[2].tolist() == [0, 0, 0, 0, 0]
    assert got.loc[3, "tokens"] == 3 and got.loc[3, "chars"] == 14
    assert got.loc[4, ["headers", "lists"]].tolist() == [1, 1]


def _reference(t: str) -> list[int]:
    """Line-by-line Python ``re`` version of the counting rules (fenced code blanked)."""
    kept, inside = [], False
    for line in t.split("\n"):
        if line.lstrip(" \t").startswith("```"):
            inside = not inside
            kept.append("")
        else:
            kept.append("" if inside else line)
    u = "\n".join(kept)
    return [
        len(re.findall(r"[^\x00-\x20]+", t)),
        len(t),
        len(re.findall(r"(?m)^#{1,6} ", u)),
        len(re.findall(r"(?m)^[ \t]*(?:[-*+]|\d+\.) ", u)),
        len(re.findall(r"\*\*[^*\n]+\*\*", u)) + len(re.findall(r"__[^_\n]+__", u)),
    ]


def test_counts_match_regex_reference_on_random_markdown():
    rng = np.random.default_rng(0)
    pieces = ["```", "\n", "**", "__", "*", "_", "# ", "#", "- ", "1. ", "12.", " ", "\t", "ab", "é", "+ "]
    texts = ["".join(rng.choice(pieces, rng.integers(0, 30))) for _ in range(4_000)]
    got = text_counts(texts)
    want = np.array([_reference(t) for t in texts])
    np.testing.assert_array_equal(got[["tokens", "chars", "headers", "lists", "bold"]].to_numpy(), want)


def test_style_features_from_text_columns_and_counts():
    df = pd.DataFrame({
        "response_a": ["one two three", "# h\n- a\n- b **x**", "", "a b"],
        "response_b": ["one", "plain words here now", "", "c d"],
        "my_col": [1.0, 2.0, 3.0, 4.0],
        "votes_a": [1, 0, 2, 2],
        "votes_b": [1, 0, 0, 6],
    })
    nm, x = style_features(df, ("length", "markdown", "my_col", "votes"))
    assert nm == ["length", "headers", "lists", "bold", "my_col", "votes"]
    length = normalised_difference([3, 7, 0, 2], [1, 4, 0, 2])
    np.testing.assert_allclose(x[:, 0], standardise(length))
    np.testing.assert_allclose(x[:, 2], standardise([0.0, 1.0, 0.0, 0.0]))
    np.testing.assert_allclose(x[:, 4], standardise([1.0, 2.0, 3.0, 4.0]))
    np.testing.assert_allclose(x[:, 5], standardise([0.0, 0.0, 1.0, -0.5]))
    np.testing.assert_allclose(x.mean(axis=0), 0.0, atol=1e-12)
    _, xc = style_features(df, ("length",), length_unit="chars")
    np.testing.assert_allclose(xc[:, 0], standardise(normalised_difference([13, 17, 0, 3], [3, 20, 0, 3])))
    counted = df.drop(columns=["response_a", "response_b"]).assign(length_a=[3, 7, 0, 2], length_b=[1, 4, 0, 2])
    np.testing.assert_allclose(style_features(counted, ("length",))[1], x[:, :1])
    with pytest.raises(InputError):
        style_features(df, ("nope",))


def _verbose_battles(rng: np.random.Generator, n: int, m: int):
    """Strengths, pairs and the standardised length feature of models of varied verbosity."""
    theta = strengths(m, rng)
    verbosity = rng.normal(0.0, 0.7, m)
    a, b = pairs(m, n, rng)
    len_a = np.round(np.exp(5.5 + verbosity[a] + 0.4 * rng.normal(size=n)))
    len_b = np.round(np.exp(5.5 + verbosity[b] + 0.4 * rng.normal(size=n)))
    _, x = style_features(pd.DataFrame({"length_a": len_a, "length_b": len_b}), ("length",))
    return theta, a, b, x


def _style_arena(seed: int, n: int = 80_000, m: int = 12, beta: float = 0.5, home: float = 0.0):
    """Battles where the longer response wins more often (β per SD of the length feature)."""
    rng = np.random.default_rng(seed)
    theta, a, b, x = _verbose_battles(rng, n, m)
    p = 1.0 / (1.0 + np.exp(-(theta[a] - theta[b] + home + beta * x[:, 0])))
    tie = 4 * 0.3 * p * (1 - p)  # ties that keep E[score] = p (ties count one half)
    u = rng.random(n)
    y = np.where(u < p - tie / 2, 0, np.where(u < p + tie / 2, 2, 1))
    return theta, a, b, y, x


def test_style_coefficient_recovered_and_naive_bt_biased():
    theta, a, b, y, x = _style_arena(21)
    fit = fit_contextual_bt(a, b, y, x, models=names(12), names=["length"])
    assert fit.converged and fit.method == "style"
    beta, se = fit.extra["style:length"], fit.extra_se["style:length"]
    assert abs(beta - 0.5) < 4 * se
    z = (fit.theta - theta) / np.sqrt(np.diag(fit.cov))
    assert np.abs(z).max() < 4.5
    naive = fit_contextual_bt(a, b, y, x[:, :0])
    err_naive = np.abs(naive.theta - theta).max()
    err_style = np.abs(fit.theta - theta).max()
    assert err_naive > 0.15 and err_naive > 4 * err_style


def test_first_position_weights_and_names():
    _, a, b, y, x = _style_arena(22, n=40_000, home=0.3)
    fit = fit_contextual_bt(a, b, y, x, home=True, names=["length"])
    assert abs(fit.extra["first_position"] - 0.3) < 4 * fit.extra_se["first_position"]
    # integer weights are likelihood weights: weight 2 == the rows twice
    w2 = fit_contextual_bt(a, b, y, x, weight=np.full(a.size, 2.0), home=True)
    twice = fit_contextual_bt(np.r_[a, a], np.r_[b, b], np.r_[y, y], np.r_[x, x], home=True)
    np.testing.assert_allclose(w2.theta, twice.theta, atol=1e-8)
    np.testing.assert_allclose(w2.extra["style:x0"], twice.extra["style:x0"], atol=1e-8)
    # model names instead of indices give the same fit (sorted names)
    nm = np.array(names(12), dtype=object)
    by_name = fit_contextual_bt(nm[a], nm[b], np.asarray(WINNERS, dtype=object)[y], x, home=True)
    assert by_name.models == tuple(names(12))
    np.testing.assert_allclose(by_name.theta, w2.theta, atol=1e-8)


def test_without_covariates_and_ties_it_is_bradley_terry():
    rng = np.random.default_rng(23)
    theta = strengths(6, rng)
    a, b = pairs(6, 5_000, rng)
    y = (rng.random(a.size) > 1 / (1 + np.exp(-(theta[a] - theta[b])))).astype(np.int64)
    ctx = fit_contextual_bt(a, b, y, np.zeros((a.size, 1)), names=["flat"])
    assert ctx.extra["style:flat"] == 0.0 and np.isnan(ctx.extra_se["style:flat"])
    nm = np.array(names(6), dtype=object)
    bt = fit_rao_kupper(to_cells(a, b, y))
    assert bt.models == tuple(nm)
    np.testing.assert_allclose(ctx.theta, bt.theta, atol=1e-8)
    np.testing.assert_allclose(ctx.cov, bt.cov, atol=1e-10)


def test_degenerate_with_prior_is_finite():
    a = np.array([0, 0, 1, 2, 1, 3])
    b = np.array([1, 2, 2, 1, 3, 2])
    y = np.array([0, 0, 0, 0, 1, 2])  # m00 never loses
    x = np.array([[0.5], [-1.0], [1.0], [0.0], [0.3], [-0.8]])
    fit = fit_contextual_bt(a, b, y, x, prior=0.1, reg=0.1)
    assert fit.converged and np.all(np.isfinite(fit.theta)) and np.all(np.isfinite(fit.cov))
    assert fit.theta.argmax() == 0
    raw = fit_contextual_bt(a, b, y, x)
    assert np.all(np.isfinite(raw.theta)) and raw.cov is None and not raw.converged
    # a soft verdict of 0.9 is evidence both ways: m00 can now be estimated
    soft = fit_contextual_bt(a, b, np.where(np.arange(6) == 0, 0.9, np.where(y == 0, 1.0, np.where(y == 1, 0.0, 0.5))), x)
    assert soft.converged and soft.cov is not None


def test_style_control_end_to_end_on_text():
    rng = np.random.default_rng(24)
    n, m = 3_000, 5
    a, b = pairs(m, n, rng)
    la, lb = rng.integers(1, 60, n), rng.integers(1, 60, n)
    bullets_a = rng.integers(0, 3, n)
    resp_a = ["w " * k + "\n- item" * j for k, j in zip(la, bullets_a, strict=True)]
    resp_b = ["w " * k for k in lb]
    y = np.where(la > lb, 0, 1)
    nm = np.array(names(m), dtype=object)
    df = pd.DataFrame({"model_a": nm[a], "model_b": nm[b], "winner": np.asarray(WINNERS, dtype=object)[y],
                       "response_a": resp_a, "response_b": resp_b})
    fit = style_control(df, ("length", "markdown"))
    assert set(fit.extra) == {"style:length", "style:headers", "style:lists", "style:bold"}
    assert fit.extra["style:length"] > 1.0  # the longer answer always wins
    assert fit.extra["style:headers"] == 0.0  # no headers anywhere: dropped column
    names_, x = style_features(df)
    direct = fit_contextual_bt(nm[a], nm[b], df["winner"], x, names=names_)
    np.testing.assert_allclose(direct.theta, fit.theta, atol=1e-10)


# ----------------------------------------------------------------------------- tie models with style
TIE_MODELS = {"davidson": (fit_contextual_davidson, fit_davidson), "rao-kupper": (fit_contextual_rao_kupper,
                                                                                  fit_rao_kupper)}


def _tie_arena(model: str, seed: int, n: int = 60_000, m: int = 10, beta: float = 0.5, tie: float = 1.0,
               home: float = 0.0):
    """Battles from the Davidson (ν = tie) or Rao–Kupper (θ_RK = 1 + tie) model with
    d = θ_a − θ_b + home + β·length; a third of the ties are ``tie (bothbad)``."""
    rng = np.random.default_rng(seed)
    theta, a, b, x = _verbose_battles(rng, n, m)
    d = theta[a] - theta[b] + home + beta * x[:, 0]
    if model == "davidson":
        u = np.column_stack([np.exp(d / 2), np.exp(-d / 2), np.full(n, tie)])
        probs = u / u.sum(axis=1, keepdims=True)
    else:
        tau = np.log1p(tie)
        p_a, p_b = 1 / (1 + np.exp(tau - d)), 1 / (1 + np.exp(tau + d))
        probs = np.column_stack([p_a, p_b, 1 - p_a - p_b])
    y = draw(probs, rng)
    y = np.where((y == 2) & (rng.random(n) < 1 / 3), 3, y)
    return theta, a, b, y, x


@pytest.mark.parametrize("model", TIE_MODELS)
def test_tie_models_recover_style_tie_parameter_and_strengths(model):
    truth = {"davidson": 1.0, "rao-kupper": 2.0}[model]
    theta, a, b, y, x = _tie_arena(model, 31, home=0.2)
    fit = TIE_MODELS[model][0](a, b, y, x, models=names(10), home=True, names=["length"])
    assert fit.converged and fit.method == f"{model.replace('-', '_')}+style"
    for key, want in (("style:length", 0.5), ("first_position", 0.2), ("tie_parameter", truth)):
        assert abs(fit.extra[key] - want) < 4 * fit.extra_se[key], key
    assert np.abs((fit.theta - theta) / np.sqrt(np.diag(fit.cov))).max() < 4.5
    # ignoring style biases the ranking toward verbose models
    naive = TIE_MODELS[model][0](a, b, y, x[:, :0])
    assert np.abs(naive.theta - theta).max() > 3 * np.abs(fit.theta - theta).max()


@pytest.mark.parametrize("home", [False, True])
@pytest.mark.parametrize("model", TIE_MODELS)
def test_tie_models_without_covariates_match_the_cell_fits(model, home):
    _, a, b, y, _ = _tie_arena(model, 32, n=8_000, m=6, home=0.3 * home)
    ctx = TIE_MODELS[model][0](a, b, y, np.zeros((a.size, 1)), home=home, names=["flat"])
    cell = TIE_MODELS[model][1](to_cells(a, b, y), home=home)
    assert ctx.extra["style:flat"] == 0.0 and np.isnan(ctx.extra_se["style:flat"])
    np.testing.assert_allclose(ctx.theta, cell.theta, atol=1e-6)
    np.testing.assert_allclose(ctx.cov, cell.cov, atol=1e-6)
    np.testing.assert_allclose(ctx.loglik, cell.loglik, rtol=1e-9)
    for key in cell.extra:
        np.testing.assert_allclose(ctx.extra[key], cell.extra[key], atol=1e-6)
        np.testing.assert_allclose(ctx.extra_se[key], cell.extra_se[key], atol=1e-6)


@pytest.mark.parametrize("model", TIE_MODELS)
def test_tie_model_weights_are_replication(model):
    _, a, b, y, x = _tie_arena(model, 33, n=6_000, m=6)
    fitter = TIE_MODELS[model][0]
    mult = np.random.default_rng(0).integers(0, 3, a.size)  # bootstrap-style multiplicities
    weighted = fitter(a, b, y, x, weight=mult.astype(float), models=names(6))
    rep = np.repeat(np.arange(a.size), mult)
    copied = fitter(a[rep], b[rep], y[rep], x[rep], models=names(6))
    np.testing.assert_allclose(weighted.theta, copied.theta, atol=1e-8)
    for key in ("style:x0", "tie_parameter"):
        np.testing.assert_allclose(weighted.extra[key], copied.extra[key], atol=1e-8)
    np.testing.assert_allclose(weighted.loglik, copied.loglik, rtol=1e-10)


@pytest.mark.parametrize("model", TIE_MODELS)
def test_tie_models_without_ties_are_contextual_bt(model):
    _, a, b, y, x = _style_arena(34, n=5_000, m=6)
    decisive = y < 2
    a, b, y, x = a[decisive], b[decisive], y[decisive], x[decisive]
    fit = TIE_MODELS[model][0](a, b, y, x, home=True)
    bt = fit_contextual_bt(a, b, y, x, home=True)
    assert np.isnan(fit.extra_se["tie_parameter"])
    assert fit.extra["tie_parameter"] == {"davidson": 0.0, "rao-kupper": 1.0}[model]
    np.testing.assert_allclose(fit.theta, bt.theta, atol=1e-8)
    np.testing.assert_allclose(fit.cov, bt.cov, atol=1e-10)
    np.testing.assert_allclose(fit.extra["style:x0"], bt.extra["style:x0"], atol=1e-8)


def test_fit_contextual_dispatches_by_model_name():
    _, a, b, y, x = _tie_arena("davidson", 35, n=4_000, m=5)
    nm = np.array(names(5), dtype=object)
    labels = np.asarray(WINNERS, dtype=object)[y]
    direct = fit_contextual_davidson(a, b, y, x, models=names(5), prior=0.5, names=["length"])
    by_name = fit_contextual("davidson", nm[a], nm[b], labels, x, prior=0.5, names=["length"])
    np.testing.assert_allclose(by_name.theta, direct.theta, atol=1e-10)
    assert by_name.extra == pytest.approx(direct.extra)
    rk = fit_contextual("rao_kupper", a, b, y, x)
    assert rk.method == "rao_kupper+style" and rk.extra["tie_parameter"] > 1.0
    bt = fit_contextual("bt", a, b, y, x, prior=0.5)  # prior is the prior, not bt's positional reg
    np.testing.assert_allclose(bt.theta, fit_contextual_bt(a, b, y, x, prior=0.5).theta)
    with pytest.raises(ValueError, match="style control"):
        fit_contextual("elo", a, b, y, x)
    with pytest.raises(ValueError, match="float scores"):
        fit_contextual("davidson", a, b, (y == 0).astype(float), x)
