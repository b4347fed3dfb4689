"""What every result object (leaderboard, audit report) shares: JSON-safe values and
writers that return the text and also write it to a path when one is given."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from referee.errors import InputError


def clean(value: Any) -> Any:
    """JSON-safe values: numpy scalars → Python, NaN/inf → None, containers recursively."""
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def emit(text: str, path: str | Path | None) -> str:
    """Write ``text`` to ``path`` when given; return it either way."""
    if path is not None:
        Path(path).write_text(text, encoding="utf-8")
    return text


class Renderable:
    """Mixin: ``to_json`` from ``to_dict``, and ``save(path)`` dispatching on the extension.

    Subclasses define ``to_dict()`` and the ``to_<format>(path=None)`` methods named in ``FORMATS``.
    """

    FORMATS: ClassVar[dict[str, str]] = {".json": "to_json", ".md": "to_markdown", ".html": "to_html"}

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def to_json(self, path: str | Path | None = None, indent: int = 2) -> str:
        text = json.dumps(self.to_dict(), indent=indent, allow_nan=False, ensure_ascii=False)
        if path is not None:
            Path(path).write_text(text + "\n", encoding="utf-8")
        return text

    def save(self, path: str | Path) -> Path:
        """Write by extension (see ``FORMATS``); creates the folder if needed."""
        p = Path(path)
        suffix = p.suffix.lower()
        if suffix not in self.FORMATS:
            raise InputError(f"unknown output extension {suffix!r}; use one of {', '.join(self.FORMATS)}", path=str(p))
        p.parent.mkdir(parents=True, exist_ok=True)
        writer: Callable[..., str] = getattr(self, self.FORMATS[suffix])
        writer(p)
        return p
