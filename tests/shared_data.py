"""Where the public test data lives (``../shared/data`` beside the repository) and how tests skip without it."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def need(path: Path) -> Path:
    """``path`` if it exists, else skip the test with a message saying where the data is expected."""
    if not path.exists():
        pytest.skip(f"shared data not available: {path} (expected beside the repository in ../shared/data)")
    return path
