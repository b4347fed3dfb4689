"""Reading verdicts out of judge answers.  Never guess: what does not parse is ``unparsed``.

* regex templates: the **last** match of the template's pattern wins (judges often restate
  the format before answering); the captured label maps to a winner (and a strength for
  graded verdicts) or, pointwise, to a rating inside the scale;
* logprob templates: the first non-blank answer token is the verdict (or, when it is not a
  verdict token, the verdict tokens among its alternatives if they hold enough probability);
* with logprobs, the verdict token's top alternatives give a distribution over the labels
  (softmax over the alternatives that are verdict tokens, case/space-insensitive), hence
  ``prob_a = P(A) + P(tie)/2`` pairwise, and the expected rating Σ p(k)·k pointwise
  (distribution-sensitive scoring, as in TrustJudge) with the distribution in ``score_probs``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from referee.judging.templates import MODEL_A, MODEL_B, TIE, Template
from referee.judging.types import ChatResult

OK, UNPARSED, FAILED = "ok", "unparsed", "failed"
TokenLogprobs = list[tuple[str, float, list[tuple[str, float]]]]


@dataclass
class Verdict:
    """One parsed judge answer."""

    status: str  # ok | unparsed | failed
    label: str | None = None  # the verdict text as matched (e.g. "A>B", "7")
    winner: str | None = None
    strength: float | None = None
    prob_a: float | None = None
    probs: dict[str, float] | None = None  # winner -> probability (pairwise, from logprobs)
    score: float | None = None  # pointwise: expected rating with logprobs, else the rating
    rating: float | None = None  # pointwise: the rating as written
    score_probs: dict[str, float] | None = None  # pointwise: rating -> probability


def parse(result: ChatResult | None, template: Template) -> Verdict:
    """Verdict of one judge answer (``failed`` for a call that never answered)."""
    if result is None or result.error is not None or result.text is None:
        return Verdict(FAILED)
    if template.parser == "logprob":
        return _parse_first_token(result, template)
    return _parse_regex(result, template)


# -- labels ---------------------------------------------------------------------------------
def _norm(text: str, case_sensitive: bool) -> str:
    text = re.sub(r"\s+", "", text)
    return text if case_sensitive else text.casefold()


def _label_keys(template: Template) -> dict[str, str]:
    """Normalised verdict text -> the label as declared (pairwise labels, or pointwise ratings)."""
    if template.kind == "pointwise":
        lo, hi = template.scale or (0, 0)
        return {str(k): str(k) for k in range(lo, hi + 1)}
    return {_norm(k, template.case_sensitive): k for k in template.labels}


def _pairwise(template: Template, label: str, dist: dict[str, float] | None) -> Verdict:
    winner, strength = template.labels[label]
    v = Verdict(OK, label=label, winner=winner)
    if template.graded:
        v.strength = float(strength if strength is not None else (0 if winner not in (MODEL_A, MODEL_B) else 1))
    if dist:
        probs: dict[str, float] = {}
        for lab, p in dist.items():
            w = template.labels[lab][0]
            probs[w] = probs.get(w, 0.0) + p
        v.probs = probs
        v.prob_a = min(1.0, max(0.0, probs.get(MODEL_A, 0.0) + 0.5 * (1.0 - probs.get(MODEL_A, 0.0) - probs.get(MODEL_B, 0.0))))
    return v


def _pointwise(template: Template, text: str, dist: dict[str, float] | None) -> Verdict:
    lo, hi = template.scale or (0, 0)
    try:
        rating = float(text)
    except ValueError:
        return Verdict(UNPARSED)
    if not (lo <= rating <= hi) or math.isnan(rating):
        return Verdict(UNPARSED, label=text)
    v = Verdict(OK, label=text, score=rating, rating=rating)
    if dist:
        v.score_probs = {k: dist[k] for k in sorted(dist, key=int)}
        v.score = sum(int(k) * p for k, p in dist.items())
    return v


# -- regex ------------------------------------------------------------------------------------
def last_match(text: str, template: Template) -> re.Match[str] | None:
    """The last match of the first pattern that matches at all."""
    for pat in template.compiled:
        found = None
        for found in pat.finditer(text):  # noqa: B007 - keep the last one
            pass
        if found is not None:
            return found
    return None


def _group_span(m: re.Match[str]) -> tuple[str, int, int]:
    g = 1 if m.re.groups else 0
    return m.group(g), m.start(g), m.end(g)


def _parse_regex(result: ChatResult, template: Template) -> Verdict:
    text = result.text or ""
    m = last_match(text, template)
    if m is None:
        return Verdict(UNPARSED)
    label_text, _, _ = _group_span(m)
    keys = _label_keys(template)
    dist = _regex_distribution(result, template, label_text, keys)
    if template.kind == "pointwise":
        return _pointwise(template, label_text.strip(), dist)
    label = keys.get(_norm(label_text, template.case_sensitive))
    if label is None:
        return Verdict(UNPARSED, label=label_text)
    return _pairwise(template, label, dist)


def _regex_distribution(
    result: ChatResult, template: Template, label_text: str, keys: dict[str, str]
) -> dict[str, float] | None:
    """Label distribution at the token that carries the matched verdict, if logprobs came back."""
    lps = result.logprobs
    if not lps:
        return None
    joined = "".join(t for t, _, _ in lps)
    m = last_match(joined, template)  # locate it in the token stream itself (detokenisation may differ)
    if m is None:
        return None
    got, start, end = _group_span(m)
    if got != label_text:
        return None
    pos = 0
    for token, lp, alts in lps:
        t_end = pos + len(token)
        if pos <= start < t_end:
            if t_end < end:
                return None  # the label spans several tokens: one token's alternatives do not decide it
            return token_distribution(
                token, lp, alts, keys, joined[pos:start], joined[end:t_end], template.case_sensitive, template.kind == "pairwise"
            )
        pos = t_end
    return None


# -- logprob (single token) -----------------------------------------------------------------------
def _parse_first_token(result: ChatResult, template: Template) -> Verdict:
    """The first non-blank token is the verdict.  When it is not a verdict token but verdict tokens
    hold at least ``min_verdict_mass`` of its probability, the verdict is read from them (the
    judge's preference *given* that it answers with a verdict, as AlpacaEval's weighted judge does),
    and the label is marked ``(logprobs)``."""
    keys = _label_keys(template)
    text = (result.text or "").strip()
    if result.logprobs:
        for token, lp, alts in result.logprobs:
            if not token.strip():
                continue
            matched = _matching(token, lp, alts, keys, "", "", template.case_sensitive)
            dist = token_distribution(token, lp, alts, keys, "", "", template.case_sensitive, template.kind == "pairwise")
            label = keys.get(_norm(token, template.case_sensitive))
            marked = False
            if label is None:  # the judge did not answer with a verdict token
                mass = sum(math.exp(x) for v in matched.values() for x in v)
                if dist is None or mass < template.min_verdict_mass:
                    break
                label, marked = max(dist, key=lambda k: dist[k]), True
            v = _pointwise(template, label, dist) if template.kind == "pointwise" else _pairwise(template, label, dist)
            if marked:
                v.label = f"{label} (logprobs)"
                if v.prob_a is not None and abs(v.prob_a - 0.5) < 1e-12:
                    v.winner = TIE
            return v
    label = keys.get(_norm(text, template.case_sensitive)) if text else None
    if label is None:
        return Verdict(UNPARSED, label=text[:40] or None)
    if template.kind == "pointwise":
        return _pointwise(template, label, None)
    return _pairwise(template, label, None)


def token_distribution(
    token: str,
    logprob: float,
    alternatives: list[tuple[str, float]],
    keys: dict[str, str],
    prefix: str = "",
    suffix: str = "",
    case_sensitive: bool = False,
    floor_missing: bool = False,
) -> dict[str, float] | None:
    """P(label) from one token position: softmax over the alternatives that are verdict tokens.

    ``prefix``/``suffix`` are the parts of the chosen token around the label (``"[["`` in a
    token ``"[[A"``); an alternative counts when, stripped of the same prefix and suffix and of
    whitespace, it equals a label (case-insensitively unless ``case_sensitive``).  The chosen
    token is included even when the endpoint left it out of the alternatives.  Probabilities
    are normalised over the verdict tokens present; None when none maps to a label.  With
    ``floor_missing`` a label absent from the alternatives gets the lowest listed logprob (its
    upper bound, as AlpacaEval does), so one-sided evidence is not read as certainty.
    """
    found = _matching(token, logprob, alternatives, keys, prefix, suffix, case_sensitive)
    if floor_missing and found and alternatives:
        floor = min(lp for _, lp in alternatives if lp is not None and not math.isnan(lp))
        for label in set(keys.values()) - set(found):
            found[label] = [floor]
    return _softmax(found)


def _matching(
    token: str, logprob: float, alternatives: list[tuple[str, float]], keys: dict[str, str],
    prefix: str, suffix: str, case_sensitive: bool,
) -> dict[str, list[float]]:  # fmt: skip
    """label -> logprobs of the alternatives (and the chosen token) that spell it."""
    seen: dict[str, float] = {}
    for tok, lp in [*alternatives, (token, logprob)]:
        if tok not in seen and lp is not None and not math.isnan(lp):
            seen[tok] = float(lp)
    pre, suf = prefix.strip(), suffix.strip()
    found: dict[str, list[float]] = {}
    for tok, lp in seen.items():
        rest = tok.strip()
        if pre:
            if not rest.startswith(pre):
                continue
            rest = rest[len(pre) :]
        if suf and rest.endswith(suf):
            rest = rest[: -len(suf)]
        label = keys.get(_norm(rest, case_sensitive))
        if label is not None:
            found.setdefault(label, []).append(lp)
    return found


def _softmax(found: dict[str, list[float]]) -> dict[str, float] | None:
    """Normalised probabilities over the labels found; None when there are none."""
    if not found:
        return None
    top = max(max(v) for v in found.values())
    if math.isinf(top):
        return None
    weights = {k: sum(math.exp(lp - top) for lp in v) for k, v in found.items()}
    total = sum(weights.values())
    return {k: w / total for k, w in weights.items()}
