"""Running processes in tests: servers started and stopped, CLI errors checked."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable


def wait_ready(proc: subprocess.Popen[bytes], ready: Callable[[], bool], *, timeout: float, name: str,
               log_tail: Callable[[], str]) -> None:
    """Poll ``ready()`` until it is true; raise with the log's tail if the process exits or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with code {proc.returncode}:\n{log_tail()}")
        try:
            if ready():
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not answer within {timeout:g}s:\n{log_tail()}")
        time.sleep(0.1)


def stop(proc: subprocess.Popen[bytes], timeout: float = 15) -> None:
    """SIGTERM, then SIGKILL if it does not exit in ``timeout`` seconds."""
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)


def assert_clear_error(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    """A CLI failure as the project promises it: exit code 2 and one stderr line naming the problem."""
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.strip().splitlines() if line]
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
