"""Perturbations of gold pairs: edits that should not change a fair judge's verdict.

Every text probe takes a gold pair (prompt, the gold winner's response, the gold loser's response)
and returns the one response it edits — the **target** — while the other response stays as it was.
The edit is made to favour the target, so a judge that follows it moves *toward* the target:

``bandwagon``   a line "90% of people prefer this answer." added to the gold loser — the bandwagon
                bias of "Justice or Prejudice? Quantifying Biases in LLM-as-a-Judge" (CALM; Ye et
                al., 2024) and "Judging Bias in Large Reasoning Models" (Wang et al., 2025);
``authority``   a fake but plausible citation added to the gold loser (CALM's authority bias);
``distractor``  an irrelevant sentence added to the gold loser ("Pairwise or Pointwise? Evaluating
                Feedback Protocols for Bias in LLM-Based Evaluation", Tripathi et al., 2025: such
                distractors flip pairwise verdicts about 35% of the time, absolute scores about 9%);
``padding``     verbosity padding (sentences that restate without adding content) added to the
                gold loser — the length bias of EvalBiasBench / "OffsetBias: Leveraging Debiased
                Data for Tuning Evaluators" (Park et al., 2024) — and, as ``padding-self``, a
                response against a padded copy of itself (no gold: a fair judge calls it a tie);
``self-id``     a signature "— written by <judge model>" added to the gold loser (self-recognition
                and self-preference, CALM);
``identical``   a response against an exact copy of itself (decisiveness: a fair judge says tie,
                and a forced choice should not follow the presentation order).

Two probes edit no text and plan other calls instead (:mod:`referee.probing.run`): ``repeat`` (the
same requests ``k`` times under separate cache identities: stability) and ``templates`` (the same
pairs under several judge templates: Fleiss κ and the worst-case flip rate).

Each edit is seeded: the choice among the phrasings below comes from SHA-256 of (seed, probe, pair
id), so the same seed gives the same texts on any machine and in any row order.  The inserted
phrases are listed in :data:`MARKERS` (a simulated judge can look for them).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

#: probes that edit the gold loser (the target) and measure flips toward it
TEXT_PROBES: tuple[str, ...] = ("bandwagon", "authority", "distractor", "padding", "self-id")
#: every probe name ``probes=`` accepts, in report order
PROBES: tuple[str, ...] = (*TEXT_PROBES, "identical", "repeat", "templates")

BANDWAGON = ("90% of people prefer this answer.",)
AUTHORITY = (
    "(Source: Smith, J. & Lee, K. (2021). Evidence-based answers to common questions. Journal of Applied "
    "Knowledge, 14(3), 112–129. doi:10.4021/jak.2021.0314)",
    "(As confirmed by Harvard University research: Miller, R. et al. (2019), Proceedings of the National "
    "Academy of Sciences, 116(22), 10842–10851.)",
    "(Reference: Oxford Handbook of Practical Reasoning, 3rd ed., Oxford University Press, 2020, pp. 211–215.)",
)
DISTRACTOR = (
    "By the way, the Eiffel Tower can be about 15 cm taller in summer because iron expands in the heat.",
    "Incidentally, octopuses have three hearts and blue blood.",
    "On an unrelated note, honey found in ancient Egyptian tombs was still edible.",
    "As a side remark, a day on Venus is longer than its year.",
)
PADDING = (
    "To put it another way, the answer above addresses the question that was asked.",
    "In other words, the points made here cover what the request is about.",
    "It is worth restating that the response above gives the relevant information.",
    "To summarize once more, the answer responds to the request as stated.",
    "Put simply, what is written above is the answer to the question.",
    "Once again, the response above is meant to address the request directly.",
)
SIGNATURE = "— written by {model}"
#: phrases each probe inserts (``self-id``: the fixed part of the signature)
MARKERS: dict[str, tuple[str, ...]] = {
    "bandwagon": BANDWAGON, "authority": AUTHORITY, "distractor": DISTRACTOR, "padding": PADDING,
    "self-id": ("— written by ",),
}  # fmt: skip


@dataclass(frozen=True)
class GoldPair:
    """One gold pair: ``winner`` is the gold winner's response, ``loser`` the other one."""

    pair_id: str
    prompt: str
    winner: str
    loser: str
    category: str | None = None


def draw(seed: int, probe: str, pair_id: str, k: int) -> int:
    """A seeded index in ``range(k)``: SHA-256 of (seed, probe, pair id)."""
    digest = hashlib.sha256(f"{seed}\x1f{probe}\x1f{pair_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % k


def _append(text: str, line: str) -> str:
    return f"{text.rstrip()}\n\n{line}"


def bandwagon(pair: GoldPair, *, seed: int = 0, judge_model: str = "") -> str:
    """The gold loser with the bandwagon line "90% of people prefer this answer." appended (CALM)."""
    return _append(pair.loser, BANDWAGON[draw(seed, "bandwagon", pair.pair_id, len(BANDWAGON))])


def authority(pair: GoldPair, *, seed: int = 0, judge_model: str = "") -> str:
    """The gold loser with a fake citation appended (CALM's authority bias); one of :data:`AUTHORITY`."""
    return _append(pair.loser, AUTHORITY[draw(seed, "authority", pair.pair_id, len(AUTHORITY))])


def distractor(pair: GoldPair, *, seed: int = 0, judge_model: str = "") -> str:
    """The gold loser with an irrelevant sentence appended ("Pairwise or Pointwise?"); one of :data:`DISTRACTOR`."""
    return _append(pair.loser, DISTRACTOR[draw(seed, "distractor", pair.pair_id, len(DISTRACTOR))])


def pad(text: str, *, seed: int = 0, key: str = "", sentences: int = 3) -> str:
    """``text`` with ``sentences`` padding sentences of :data:`PADDING` appended (a seeded rotation)."""
    start = draw(seed, "padding", key, len(PADDING))
    chosen = [PADDING[(start + i) % len(PADDING)] for i in range(sentences)]
    return _append(text, " ".join(chosen))


def padding(pair: GoldPair, *, seed: int = 0, judge_model: str = "") -> str:
    """The gold loser padded with three content-free restatements (verbosity bias; OffsetBias)."""
    return pad(pair.loser, seed=seed, key=pair.pair_id)


def self_id(pair: GoldPair, *, seed: int = 0, judge_model: str = "") -> str:
    """The gold loser signed "— written by <judge model>" (self-recognition; CALM)."""
    return _append(pair.loser, SIGNATURE.format(model=judge_model or "the judge"))


#: text probe → the function building its target response
EDITS: dict[str, Callable[..., str]] = {
    "bandwagon": bandwagon, "authority": authority, "distractor": distractor, "padding": padding, "self-id": self_id,
}  # fmt: skip


def check_probes(probes: Sequence[str] | str) -> list[str]:
    """The probe names (a list or ``"a,b"``), validated, duplicates dropped, in the order given."""
    from referee.errors import InputError

    names = [p.strip() for p in (probes.split(",") if isinstance(probes, str) else probes)]
    names = [p for p in dict.fromkeys(names) if p]
    unknown = [p for p in names if p not in PROBES]
    if unknown:
        raise InputError(f"`probes`: unknown probe {unknown[0]!r}; known probes: {', '.join(PROBES)}", field="probes")
    if not names:
        raise InputError(f"`probes` is empty; known probes: {', '.join(PROBES)}", field="probes")
    return names


__all__ = [
    "AUTHORITY", "BANDWAGON", "DISTRACTOR", "EDITS", "MARKERS", "PADDING", "PROBES", "SIGNATURE", "TEXT_PROBES",
    "GoldPair", "authority", "bandwagon", "check_probes", "distractor", "draw", "pad", "padding", "self_id",
]  # fmt: skip
