"""Style control: feature extraction and the contextual Bradley–Terry fit."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from _sim import names, pairs, strengths, to_cells
from referee.errors import InputError
from referee.rank.style import (
    fit_contextual_bt,
    normalised_difference,
    standardise,
    style_control,
    style_features,
    text_counts,
)
from referee.rank.ties import fit_rao_kupper
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


def _style_arena(seed: int, n: int = 80_000, m: int = 12, beta: float = 0.5, home: float = 0.0):
    """Battles where the longer response wins more often (β per SD of the length feature)."""
    rng = np.random.default_rng(seed)
    theta = strengths(m, rng)
    verbosity = rng.normal(0.0, 0.7, m)
    a, b = pairs(m, n, rng)
    len_a = np.round(np.exp(5.5 + verbosity[a] + 0.4 * rng.normal(size=n)))
    len_b = np.round(np.exp(5.5 + verbosity[b] + 0.4 * rng.normal(size=n)))
    df = pd.DataFrame({"length_a": len_a, "length_b": len_b})
    _, x = style_features(df, ("length",))
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
