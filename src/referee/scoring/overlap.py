"""The ``overlap`` scorer: prompt relevance by lexical overlap, a cheap offline relevance judge.

**What it measures.**  The share of the prompt's content terms that the response uses -- the
*recall* of the prompt's terms (the recall side of ROUGE-1, Lin 2004, with the prompt as the
reference)::

    score(p, r) = |T(p) ∩ T(r)| / |T(p)|          ∈ [0, 1]

where ``T(x)`` is the set of *content terms* of ``x``: its word tokens (maximal runs of Unicode
letters and digits, lower-cased), less the small English stopword list :data:`STOPWORDS`
(function words and the instruction verbs of a prompt, "write", "explain", ...), each folded by
Harman's S-stemmer (Harman 1991, "How effective is suffixing?", JASIS 42(1): ``-ies → -y``,
``-es → -e``, ``-s → ''`` with the exceptions that keep "glass" and "bus") after a
possessive ``'s`` is dropped.  A prompt made only of stopwords counts all its words as terms.
There is no IDF (a score must not depend on the batch it came in) and no term-frequency weight:
repeating a prompt word does not raise the score.

As a pairwise judge (``referee judge --judge overlap``, :mod:`referee.judging.scorer`) the
verdict is ``σ(score_a − score_b)``: both responses answer the same prompt, so the difference is
the share of prompt terms one uses and the other does not.

**What it cannot do.**  It is a relevance heuristic, not a quality judge: it rewards echoing the
prompt's words, whatever is said with them.  It cannot tell a correct answer from a wrong one on
the same topic, a complete one from a truncated one that already named the topic, nor a
paraphrase (synonyms score 0) from an off-topic answer; a response that copies the prompt scores
1.  What it can do is tell an answer to *this* prompt from an answer to another one.

The prompt text is required: a response whose prompt is missing or has no word at all is
refused with one message (``score_table(..., questions=...)`` or a ``prompt`` column supplies it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np

from referee.errors import InputError

_STOPWORD_TEXT = """a about above after again against all also am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have having he
    her here hers herself him himself his how i if in into is it its itself just me more most my myself no nor not
    now of off on once only or other our ours ourselves out over own same she should so some such than that the
    their theirs them themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves
    please write explain describe give tell list provide make create generate following answer question"""
#: a small English stopword list: articles, pronouns, auxiliaries, prepositions, conjunctions,
#: question words and the instruction verbs prompts open with (they say what to do, not about what)
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_WORD = re.compile(r"[^\W_]+")
_POSSESSIVE = re.compile(r"(?<=[^\W_])['’]s\b")


def fold(word: str) -> str:
    """Harman's S-stemmer on a lower-cased word (a possessive ``'s`` already dropped):
    ``-ies → -y`` (not ``-eies``/``-aies``), ``-es → -e`` (not ``-aes``/``-ees``/``-oes``),
    ``-s → ''`` (not ``-us``/``-ss``); words of 3 characters or fewer are kept."""
    if len(word) <= 3 or not word.endswith("s"):
        return word
    if word.endswith("ies") and not word.endswith(("eies", "aies")):
        return word[:-3] + "y"
    if word.endswith("es") and not word.endswith(("aes", "ees", "oes")):
        return word[:-1]
    if word.endswith(("us", "ss")):
        return word
    return word[:-1]


def terms(text: str, stopwords: frozenset[str] = STOPWORDS) -> frozenset[str]:
    """The content terms of ``text`` (see the module docstring): folded word tokens less ``stopwords``."""
    words = _WORD.findall(_POSSESSIVE.sub("", text.lower()))
    return frozenset(fold(w) for w in words if w not in stopwords)


def _prompt_terms(prompt: str) -> frozenset[str]:
    """:func:`terms` of a prompt, or all its folded words when every word is a stopword."""
    return terms(prompt) or terms(prompt, frozenset())


class OverlapScorer:
    """Reward = the share of the prompt's content terms that occur in the response (see the module docstring)."""

    name = "overlap"

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        """One score in [0, 1] per (prompt, response); each distinct prompt is tokenised once."""
        prompts, responses = list(prompts), list(responses)
        if len(prompts) != len(responses):
            raise InputError(f"overlap: {len(prompts)} prompts for {len(responses)} responses", field="prompt")
        wanted: dict[str, frozenset[str]] = {p: _prompt_terms(p) for p in _distinct(prompts)}
        missing = sum(not wanted.get(p) for p in prompts)
        if missing:
            raise InputError(
                f"the overlap scorer measures a response's overlap with its prompt and needs the prompt text: "
                f"{missing} of {len(prompts)} responses have no prompt (give the outputs a `prompt` column or pass "
                "`questions`)",
                field="prompt",
            )
        # every folded word of the response: a prompt term is never a stopword unless the prompt has only those
        said = (terms(r if isinstance(r, str) else "", frozenset()) for r in responses)
        hits = np.fromiter((len(wanted[p] & s) for p, s in zip(prompts, said, strict=True)), dtype=float, count=len(prompts))
        sizes = np.fromiter((len(wanted[p]) for p in prompts), dtype=float, count=len(prompts))
        share: np.ndarray = hits / sizes
        return share


def _distinct(texts: Iterable[str]) -> list[str]:
    """``texts`` once each, first appearance first (``None``/NaN read as no prompt)."""
    return list(dict.fromkeys(t if isinstance(t, str) else "" for t in texts))
