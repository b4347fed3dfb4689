"""Ray is optional: nothing in referee imports it, and every ``ray=`` use without it says what to install.
An unreachable cluster address is a clear error within seconds, before anything runs.

Each check runs in a fresh interpreter (a subprocess), so the test process never imports Ray.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

#: a meta path finder that refuses ``ray`` (as if the extra were not installed) and records the attempts
BLOCK_RAY = """
import sys
attempts = []
class NoRay:
    def find_spec(self, name, path=None, target=None):
        if name == "ray" or name.startswith("ray."):
            attempts.append(name)
            raise ImportError(f"No module named {name!r} (blocked by the test)")
        return None
sys.meta_path.insert(0, NoRay())
"""

IMPORT_ALL = BLOCK_RAY + """
import importlib, json, pkgutil, warnings
warnings.simplefilter("ignore")
import referee
names = sorted(m.name for m in pkgutil.walk_packages(referee.__path__, "referee.")
               if not m.name.endswith("__main__"))
failed = {}
for name in names:
    try:
        importlib.import_module(name)
    except Exception as e:
        failed[name] = repr(e)
for verb in ("rank", "score", "judge", "audit", "read"):
    getattr(referee, verb)
from referee.errors import InputError
from referee.ranking.distributed import rank_on_ray
from referee.scoring.distributed import score_on_ray
messages = []
for call in (lambda: rank_on_ray(sys.argv[1], "auto"), lambda: score_on_ray(sys.argv[1], "length", "auto",
                                                                                 parts_dir=sys.argv[2])):
    try:
        call()
    except InputError as e:
        messages.append(str(e))
print(json.dumps({"modules": len(names), "failed": failed, "ray_loaded": "ray" in sys.modules,
                  "attempts": attempts, "messages": messages}))
"""


def _run(code: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=timeout,
                          cwd=SRC.parent)


def test_no_referee_module_imports_ray_and_ray_use_names_the_extra(tmp_path: Path) -> None:
    votes = tmp_path / "votes.jsonl"
    votes.write_text('{"model_a": "a", "model_b": "b", "winner": "model_a"}\n', encoding="utf-8")
    proc = _run(IMPORT_ALL, str(votes), str(tmp_path / "parts"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["modules"] > 100
    assert got["failed"] == {}
    assert got["ray_loaded"] is False
    assert got["messages"] == ["ray needs Ray, which is not installed here: pip install 'referee[ray]'"] * 2
    # the only attempts to import Ray were the two `ray=` calls, each once
    assert got["attempts"] == ["ray", "ray"]


def test_referee_rank_help_does_not_import_ray() -> None:
    code = BLOCK_RAY + """
import sys
sys.argv = ["referee", "rank", "--help"]
from referee.cli import main
try:
    main()
except SystemExit:
    pass
print("ATTEMPTS", attempts, "ray" in sys.modules)
"""
    proc = _run(code)
    assert "ATTEMPTS [] False" in proc.stdout, proc.stdout[-2000:] + proc.stderr[-2000:]


def test_an_unreachable_address_is_a_clear_error_within_seconds_and_nothing_runs() -> None:
    pytest.importorskip("ray")
    code = """
import json, socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()  # a closed loopback port
from referee.errors import InputError
from referee.ranking.distributed import rank_on_ray
t = time.monotonic()
try:
    rank_on_ray(sys.argv[1], f"127.0.0.1:{port}")
    message = None
except InputError as e:
    message = e.render()
import ray
print(json.dumps({"message": message, "seconds": time.monotonic() - t, "initialized": ray.is_initialized()}))
"""
    start = time.monotonic()
    proc = _run(code, str(Path(__file__)))
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["message"].startswith("cannot reach the Ray cluster at 127.0.0.1:")
    assert "nothing was run" in got["message"]
    assert got["initialized"] is False  # Ray never connected: nothing started, nothing spent
    assert got["seconds"] < 10
    assert time.monotonic() - start < 60  # the whole interpreter, imports included
