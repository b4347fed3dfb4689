"""Auditing LLM judges and reward models: accuracy, agreement, bias, consistency, calibration.

``referee.audit(...)`` is :func:`referee.auditing.api.audit` and returns an
:class:`~referee.auditing.report.AuditReport` (``.to_json()``, ``.to_markdown()``,
``.to_html()``, ``.save(path)``, ``.print()``)::

    >>> rep = referee.audit("gpt4_pair.jsonl.gz", gold="human.jsonl.gz", rounds=1000, seed=0)  # doctest: +SKIP
    >>> rep.judges["gpt4_pair"]["details"]["agreement_no_ties"]                                # doctest: +SKIP
    {'value': 0.856, 'ci_low': ..., 'ci_high': ..., 'n': 1118}

Conventions for readers of gold-labelled benchmarks (LLMBar, JudgeBench, Auto-J, PandaLM,
chosen/rejected sets, …)
------------------------------------------------------------------------------------------
A reader returns **one canonical comparisons table** holding both the gold labels and the
judges' verdicts, so ``referee audit <benchmark folder>`` works with no ``--gold``:

* **Gold rows** have ``judge == "gold"`` (``"human"`` also counts as gold; see
  :data:`referee.auditing.load.GOLD_JUDGES`).  One row per gold vote; several annotators of
  one item are several rows with their id in ``voter`` (e.g. PandaLM's three annotators).
  A gold tie is ``winner == "tie"``.  Gold rows need no ``pair_id``/``order``.
* **Verdict rows** have ``judge`` = the evaluator's name (for LLMBar ``"<LLM>/<strategy>"``,
  e.g. ``"GPT-4/Swap"``); every distinct name is audited separately.
* ``model_a``/``model_b`` are in the order **shown** to the judge.  When the benchmark has no
  model names use stable side names shared by gold and verdicts, e.g. ``output_1`` /
  ``output_2`` (the names of the *responses*, not of the positions): a verdict shown swapped
  is then ``model_a="output_2", model_b="output_1"`` and its ``winner`` is in that shown frame.
* Give ``prompt`` (or ``prompt_id``) and, when available, ``response_a``/``response_b`` on
  both gold and verdict rows: rows are aligned by a content hash of
  (prompt, {response_a, response_b}) that ignores the order (falling back to ``prompt_id`` and
  model names when texts are missing).  Alternatively give gold and verdict rows the same
  ``pair_id``.
* Link the two presentation orders of one verdict with ``pair_id`` + ``order`` (1 = the
  benchmark's original order, 2 = swapped).  Without ``order`` the order is inferred: a row
  shown in the gold's orientation is order 1.
* ``category`` (e.g. Auto-J's scenario group) gives per-category accuracy; ``prob_a`` gives
  calibration against the gold labels (ECE, Brier; not reported without gold) and, for pairs
  judged in both orders, ``prob_order_inconsistency`` (see :mod:`referee.auditing.calibration`).

Metric definitions that reproduce published numbers: ``accuracy_order1`` / ``accuracy_order2``
= LLMBar ``correct_False`` / ``correct_True``; ``position_consistency`` = LLMBar ``equal`` and
Auto-J consistency; with ``tie_policy="three-class"``, ``accuracy_order1`` = Auto-J "single"
agreement and ``accuracy_both_orders`` = Auto-J "pairwise"; MT-Bench agreement without ties =
``details.agreement_no_ties`` (every (verdict, human vote) pair is one unit).  RewardBench leaderboard formulas and best-of-N
credit are in :mod:`referee.auditing.rewardbench`.

Modules: ``load`` (inputs), ``align`` (items, orientation, clusters), ``rows`` (per-judge
arrays), ``bootstrap`` (vectorised clustered bootstrap), ``agreement``/``accuracy``,
``position``, ``length``, ``selfpref``, ``consistency``, ``calibration``, ``scores``,
``flags``, ``report``, ``api``.
"""

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "AuditReport":
        from referee.auditing.report import AuditReport

        return AuditReport
    if name == "audit":
        from referee.auditing.api import audit

        return audit
    raise AttributeError(f"module 'referee.auditing' has no attribute {name!r}")
