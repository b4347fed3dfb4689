"""referee: trustworthy measurements from preference signals.

Heavy modules are imported lazily so ``import referee`` and the CLI start fast.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "read", "rank"]


def read(*args: Any, **kwargs: Any):
    """Read comparisons from files into the canonical table (see :func:`referee.io.read`)."""
    from referee.io import read as _read

    return _read(*args, **kwargs)


def rank(*args: Any, **kwargs: Any):
    """Rank models from comparisons (see :func:`referee.rank.api.rank`)."""
    from referee.rank.api import rank as _rank

    return _rank(*args, **kwargs)
