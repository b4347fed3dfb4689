"""A real two-node Ray cluster on this machine, inside a loopback-only network namespace.

Ray resolves ``127.0.0.1`` to the machine's interface address when there is a default route,
and tests may send traffic to loopback only.  So :class:`RayCluster` first makes a network
namespace that has nothing but ``lo`` (``unshare -n``, then ``ip link set lo up``; a ``sleep``
holds it open), and runs everything Ray in it with ``nsenter --net=…``: the head
(``ray start --head --block``), the worker node (``ray start --address … --block`` with its own
resources), and each test's driver script (:meth:`RayCluster.run`, with any test server it
starts).  Both nodes are started in sessions of their own (``setsid``), so :meth:`kill_worker`
can SIGKILL every process of the worker node by id, and :meth:`stop` ends exactly the
processes this set-up started — never by name (no ``ray stop``).

Needs root (``unshare``/``nsenter``), which the test machines and CI have.  The head's health
checks are tightened (a dead node is noticed in ~2 s instead of ~30 s) so a kill test is short.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

VENV_BIN = Path(sys.executable).parent
RAY = str(VENV_BIN / "ray")
TESTS = Path(__file__).resolve().parent
PORT = 6399
#: a dead node is declared dead after ~1.5 s (defaults: 3 s × 5 and a 10 s timeout)
SYSTEM_CONFIG = {"health_check_period_ms": 500, "health_check_failure_threshold": 3,
                 "health_check_timeout_ms": 500, "health_check_initial_delay_ms": 0}
OBJECT_STORE = 400 * 1024 * 1024
#: no usage reports; no token authentication (Ray 2.5x+ default): the cluster is reachable from
#: inside its loopback-only namespace only, and a token shared through ~/.ray would couple test runs
RAY_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}


def available() -> str | None:
    """Why a cluster cannot be started here (None: it can)."""
    if os.geteuid() != 0:
        return "needs root for a loopback-only network namespace (unshare -n)"
    try:
        import ray  # noqa: F401
    except ImportError:
        return "Ray is not installed: pip install 'referee[ray]'"
    for tool in ("unshare", "nsenter", "ip"):
        if subprocess.run(["sh", "-c", f"command -v {tool}"], capture_output=True).returncode:
            return f"{tool} is not installed"
    return None


def session_pids(sid: int) -> list[int]:
    """Every live process whose session id is ``sid`` (from ``/proc/PID/stat``)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rpartition(")")[2].split()
        if len(fields) > 3 and int(fields[3]) == sid:
            pids.append(int(entry.name))
    return pids


def kill_session(sid: int) -> int:
    """SIGKILL every process of session ``sid``, by id; the number killed."""
    killed = 0
    for _ in range(5):  # processes forking while we kill: look again
        pids = session_pids(sid)
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                pass
        time.sleep(0.1)
    return killed


class RayCluster:
    """Head + one worker node (1 CPU each, resources ``head`` / ``worker``) in a loopback-only namespace."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.address = f"127.0.0.1:{PORT}"
        self.holder: subprocess.Popen[bytes] | None = None
        self.head: subprocess.Popen[bytes] | None = None
        self.worker: subprocess.Popen[bytes] | None = None

    @property
    def netns(self) -> str:
        assert self.holder is not None
        return f"/proc/{self.holder.pid}/ns/net"

    def enter(self) -> list[str]:
        """The command prefix that runs a program inside the namespace."""
        return ["nsenter", f"--net={self.netns}"]

    def start(self) -> RayCluster:
        self.holder = subprocess.Popen(["unshare", "-n", "sh", "-c", "ip link set lo up && exec sleep infinity"])
        deadline = time.monotonic() + 10
        while "UP" not in subprocess.run([*self.enter(), "ip", "link", "show", "lo"], capture_output=True,
                                         text=True).stdout:
            if time.monotonic() > deadline:
                raise RuntimeError("the loopback-only namespace did not come up")
            time.sleep(0.05)
        self.head = self._node("head", ["--head", f"--port={PORT}", "--include-dashboard=false",
                                        f"--temp-dir={self.tmp / 'ray'}",
                                        f"--system-config={json.dumps(SYSTEM_CONFIG)}"])
        self._wait_head()
        self.start_worker()
        out = self.run("from referee.scale.cluster import connect, wait_for_nodes\n"
                       "connect(None); print(wait_for_nodes(2, timeout=90).nodes)", timeout=120)
        assert out.returncode == 0 and out.stdout.strip().endswith("2"), out.stdout + out.stderr
        return self

    def _node(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        resources = json.dumps({name: 1})
        log = open(self.tmp / f"{name}.log", "ab")  # noqa: SIM115 (kept open for the process)
        env = {**os.environ, **RAY_ENV}
        return subprocess.Popen(
            [*self.enter(), RAY, "start", "--block", *args, "--num-cpus=1", f"--resources={resources}",
             f"--object-store-memory={OBJECT_STORE}", "--disable-usage-stats"],
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,  # setsid: killable as a session
        )

    def _wait_head(self) -> None:
        deadline = time.monotonic() + 60
        probe = f"import socket; socket.create_connection(('127.0.0.1', {PORT}), timeout=1)"
        while subprocess.run([*self.enter(), sys.executable, "-c", probe], capture_output=True).returncode:
            assert self.head is not None
            if self.head.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the Ray head did not start:\n" + (self.tmp / "head.log").read_text()[-3000:])
            time.sleep(0.2)

    def start_worker(self) -> None:
        """(Re)start the worker node."""
        self.worker = self._node("worker", [f"--address={self.address}"])

    def kill_worker(self) -> int:
        """SIGKILL every process of the worker node's session; how many."""
        assert self.worker is not None
        killed = kill_session(self.worker.pid)
        self.worker.wait(timeout=10)
        return killed

    def run(self, code: str, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        """Run a driver script inside the namespace, connected by ``RAY_ADDRESS``; ``sys.argv[1:]`` = args."""
        script = self.tmp / f"driver_{time.monotonic_ns()}.py"
        script.write_text(textwrap.dedent(code), encoding="utf-8")
        env = {**os.environ, **RAY_ENV, "RAY_ADDRESS": self.address, "PYTHONPATH": str(TESTS)}
        return subprocess.run([*self.enter(), sys.executable, str(script), *args], capture_output=True, text=True,
                              env=env, timeout=timeout, cwd=self.tmp)

    def stop(self) -> None:
        for proc in (self.worker, self.head):
            if proc is not None:
                kill_session(proc.pid)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=10)
        if self.holder is not None:
            self.holder.kill()
            self.holder.wait(timeout=10)


# -- a tiny HTTP server counting calls (a stand-in for a judge endpoint), run by a driver script -------------
def counting_server() -> tuple[str, dict[str, int]]:
    """Start a threaded HTTP server on 127.0.0.1 (a free port) in this process: ``POST /`` with
    ``{"key": K}`` sleeps 50 ms and answers ``{"key": K, "value": 2·K}``; every call is counted per
    key in the returned dict.  Returns (its URL, the counts)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    counts: dict[str, int] = {}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with lock:
                counts[str(body["key"])] = counts.get(str(body["key"]), 0) + 1
            time.sleep(0.05)
            data = json.dumps({"key": body["key"], "value": 2 * int(body["key"])}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/", counts


def driver_json(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The JSON a driver script printed last (Ray may print a raylet log line to stdout after it,
    e.g. when a node dies); the driver's output when it failed."""
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, proc.stdout[-3000:] + proc.stderr[-5000:]
    out: dict[str, Any] = json.loads(lines[-1])
    return out
