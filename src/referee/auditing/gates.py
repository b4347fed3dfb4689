"""CI gates on an audit: rules ``METRIC>VALUE`` / ``METRIC<VALUE`` (also ``>=``, ``<=``).

``METRIC`` is a contract metric (``first_position_rate``, ``accuracy``, …) or a dotted path
under ``details`` (``details.flip_rate``).  A rule is *breached* by a judge whose metric's
**point value** satisfies the comparison (``ece>0.1`` fails when a judge's ECE exceeds 0.1);
a judge without that metric does not breach it.  The library only reports the breaches
(``report.meta["gate"]``); ``referee audit --fail-on RULE`` turns them into exit code 3, and
``--fail-on-flags`` turns flags that stand after FDR control into exit code 4 (see
``docs/cli.md``).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from referee.errors import InputError

RULE = re.compile(r"^\s*(?P<metric>[A-Za-z_][\w.]*)\s*(?P<op>>=|<=|>|<)\s*(?P<value>[-+0-9.eE]+)\s*$")
OPS: dict[str, Callable[[float, float], bool]] = {">": operator.gt, "<": operator.lt, ">=": operator.ge,
                                                  "<=": operator.le}


def parse_rules(rules: Sequence[str] | str | None) -> list[tuple[str, str, float]]:
    """``"ece>0.1"`` → ``("ece", ">", 0.1)``; a malformed rule raises :class:`InputError`."""
    if rules is None:
        return []
    out = []
    for text in [rules] if isinstance(rules, str) else list(rules):
        m = RULE.match(text)
        try:
            value = float(m["value"]) if m else None
        except ValueError:
            value = None
        if m is None or value is None:
            raise InputError(f"`fail_on` rules look like METRIC>VALUE or METRIC<VALUE (e.g. ece>0.1), got {text!r}",
                             field="fail_on")
        out.append((m["metric"], m["op"], value))
    return out


def _value(judge: Mapping[str, Any], metric: str) -> float | None:
    node: Any = judge.get(metric) if metric in judge else judge.get("details", {})
    if metric not in judge:
        for part in metric.removeprefix("details.").split("."):
            node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, dict):
        node = node.get("value")
    return float(node) if isinstance(node, int | float) and not isinstance(node, bool) else None


def check(judges: Mapping[str, Mapping[str, Any]], rules: Sequence[str] | str | None) -> dict[str, Any]:
    """The gate verdict: every rule, and every (judge, rule, value) that breaches one."""
    parsed = parse_rules(rules)
    breaches = []
    for metric, op, limit in parsed:
        for j, d in judges.items():
            v = _value(d, metric)
            if v is not None and OPS[op](v, limit):
                breaches.append({"judge": str(j), "rule": f"{metric}{op}{limit:g}", "value": v})
    return {"rules": [f"{m}{op}{v:g}" for m, op, v in parsed], "breaches": breaches}
