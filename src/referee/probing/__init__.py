"""Audit probes that plan new judge calls: edits of gold pairs that should not change a fair judge's
verdict (:mod:`.perturb`), run through the judge engine (:mod:`.run`), measured (:mod:`.analyse`,
:mod:`.stats`) and reported (:mod:`.report`).  The public function is :func:`referee.probe`."""

from __future__ import annotations

from referee.probing.perturb import PROBES, TEXT_PROBES
from referee.probing.report import ProbeReport
from referee.probing.run import probe

__all__ = ["PROBES", "TEXT_PROBES", "ProbeReport", "probe"]
