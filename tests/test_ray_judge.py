"""``referee judge --ray``: the judge backend as Ray actors on a real two-node cluster (tests/ray_cluster.py).

Each test runs a driver script inside the cluster's loopback-only network namespace, with a real
OpenAI-compatible judge server (tests/fault_server.py) started by that script and counting every
call.  The worker-kill test comes last: it kills the worker node and starts it again.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from fault_server import FaultServer
from ray_cluster import RayCluster, available, driver_json
from referee.errors import InputError
from referee.judging.run import judge

pytestmark = pytest.mark.skipif(available() is not None, reason=str(available()))




def _outputs(path: Path, n_prompts: int) -> Path:
    rows = [{"prompt_id": f"p{i}", "prompt": f"Question number {i}?", "model": m, "response": f"<{m}> answer {i}"}
            for m in ("strong", "medium", "weak") for i in range(n_prompts)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


#: the server's judge: prefers the better model whatever the order, so the rows depend on the request only
JUDGE = """
import re
QUALITY = {"strong": 3, "medium": 2, "weak": 1}
def shown(body, tag):
    m = re.search(rf"<{tag}>\\n(.*?)\\n</{tag}>", body["messages"][-1]["content"], re.S)
    return m.group(1) if m else ""
def quality(text):
    return next((q for name, q in QUALITY.items() if f"<{name}>" in text), 0)
def fair_judge(body):
    qa, qb = quality(shown(body, "assistant_a_response")), quality(shown(body, "assistant_b_response"))
    verdict = "A" if qa > qb else "B" if qb > qa else "C"
    return f"Assistant {'A' if qa >= qb else 'B'} is more careful.\\n\\n[[{verdict}]]"
"""

EQUAL_SCRIPT = JUDGE + """
import json, subprocess, sys
import pandas as pd
import referee
from fault_server import FaultServer

outputs, out = sys.argv[1], sys.argv[2]
srv = FaultServer(answer=fair_judge, delay_s=0.01).start()
common = dict(judge_spec={"url": srv.url, "model": "judge-1"}, pairs="round-robin", concurrency=4)
local = referee.judge(outputs, cache=False, **common)
local_calls = len(srv.calls()); srv.reset()
remote = referee.judge(outputs, cache=f"{out}/cache.sqlite", ray="auto", replicas=2, ray_num_cpus=0.5, **common)
ray_calls = len(srv.calls()); srv.reset()
cached = referee.judge(outputs, cache=f"{out}/cache.sqlite", **common)  # the same content addresses: no call
cached_calls = len(srv.calls()); srv.reset()
cli = subprocess.run([sys.executable, "-m", "referee.cli", "judge", "--outputs", outputs, "--judge-url", srv.url,
                      "--judge-model", "judge-1", "--pairs", "round-robin", "--no-cache", "-q", "--concurrency", "4",
                      "--ray", "auto", "--replicas", "2", "--ray-num-cpus", "0.5", "-o", f"{out}/cli.jsonl"],
                     capture_output=True, text=True)
cli_calls = len(srv.calls())
a, b, c = local.table, remote.table, cached.table
d = pd.read_json(f"{out}/cli.jsonl", lines=True) if cli.returncode == 0 else None
cols = ["prompt_id", "model_a", "model_b", "winner", "pair_id", "order", "raw_completion", "parse_status"]
print(json.dumps({
    "rows": len(a), "equal": bool(a.equals(b)), "cached_equal": bool(a[cols].equals(c[cols])),
    "cli_equal": d is not None and bool(d[cols].astype(str).equals(a[cols].astype(str))),
    "cli": [cli.returncode, cli.stderr[-2000:]],
    "calls": [local_calls, ray_calls, cached_calls, cli_calls], "ray": remote.usage.extra.get("ray"),
}))
srv.stop()
"""


def test_judge_on_two_nodes_gives_the_local_rows_with_the_same_calls(cluster: RayCluster, tmp_path: Path) -> None:
    """Library and CLI: the same verdict rows as a local run, the server sees as many calls, and the
    verdicts cached by the Ray run answer a local run (same content addresses)."""
    outputs = _outputs(tmp_path / "outputs.jsonl", 10)
    got = driver_json(cluster.run(EQUAL_SCRIPT, str(outputs), str(tmp_path)))
    assert got["rows"] == 10 * 3 * 2
    assert got["equal"] and got["cached_equal"] and got["cli_equal"], got
    assert got["calls"] == [60, 60, 0, 60], got
    assert got["ray"]["nodes"] == 2 and got["ray"]["sent"] >= 61 and got["ray"]["duplicates"] == 0, got


BAD_SCRIPT = """
import json, sys
import referee
from referee.errors import InputError

outputs, gguf = sys.argv[1], sys.argv[2]
out = {}
for name, kwargs in [("load", {"judge_spec": {"local": gguf}, "ray": "auto", "replicas": 2, "ray_num_cpus": 0.5}),
                     ("gpu", {"judge_spec": {"local": ""}, "ray": "auto", "ray_num_gpus": 1})]:
    try:
        referee.judge(outputs, pairs="round-robin", cache=False, **kwargs)
        out[name] = None
    except InputError as e:
        out[name] = str(e)
print(json.dumps(out))
"""


def test_a_worker_that_cannot_load_the_judge_model_is_one_clear_error(cluster: RayCluster, tmp_path: Path) -> None:
    """A GGUF the workers cannot load: the worker's error, once, no traceback; a GPU the cluster
    lacks: which resource."""
    outputs = _outputs(tmp_path / "outputs.jsonl", 2)
    gguf = tmp_path / "broken.gguf"
    gguf.write_bytes(b"GGUF" + b"\0" * 4096)
    proc = cluster.run(BAD_SCRIPT, str(outputs), str(gguf))
    got = driver_json(proc)
    assert got["load"].startswith("a Ray worker could not load the judge local:broken (judge): "), got
    assert got["load"].count("cannot load the GGUF model") == 1, got
    assert "no node of the Ray cluster has 1 GPUs" in got["gpu"] and "num_gpus" in got["gpu"], got
    assert "Traceback" not in proc.stderr


def test_an_unreachable_cluster_is_refused_within_seconds_with_nothing_spent(tmp_path: Path) -> None:
    outputs = _outputs(tmp_path / "outputs.jsonl", 2)
    with FaultServer() as srv:
        t0 = time.monotonic()
        with pytest.raises(InputError, match=r"cannot reach the Ray cluster at 127\.0\.0\.1:1 "):
            judge(str(outputs), judge_spec={"url": srv.url, "model": "judge-1"}, pairs="round-robin", cache=False,
                  ray="127.0.0.1:1")
        assert time.monotonic() - t0 < 10
        assert srv.calls() == []


RM_SCRIPT = """
import json, sys
import referee

outputs = sys.argv[1]
common = dict(judge_spec={"scorer": "length:tokens"}, pairs="round-robin", cache=False)
local = referee.judge(outputs, **common)
remote = referee.judge(outputs, ray="auto", replicas=2, ray_num_cpus=0.5, **common)
cols = ["prompt_id", "model_a", "model_b", "winner", "prob_a", "pair_id", "order", "raw_completion", "parse_status"]
bad = None
try:
    referee.judge(outputs, judge_spec={"scorer": "rm:/nonexistent/rm"}, pairs="round-robin", cache=False, ray="auto")
except Exception as e:
    bad = f"{type(e).__name__}: {e}"
print(json.dumps({"rows": len(local.table), "equal": bool(local.table[cols].equals(remote.table[cols])),
                  "ray": remote.usage.extra.get("ray"), "bad": bad}))
"""


def test_a_reward_model_judges_on_ray_with_the_local_rows(cluster: RayCluster, tmp_path: Path) -> None:
    """``--judge length:tokens --ray``: the reward model on two replicas gives exactly the local verdicts; a model
    the workers cannot load is one clear error."""
    outputs = _outputs(tmp_path / "outputs.jsonl", 20)
    got = driver_json(cluster.run(RM_SCRIPT, str(outputs)))
    assert got["rows"] == 2 * 3 * 20 and got["equal"], got
    assert got["ray"]["nodes"] == 2 and got["ray"]["sent"] >= 2, got["ray"]
    assert got["bad"] is not None and got["bad"].startswith("InputError") and "Traceback" not in got["bad"], got["bad"]


def test_ray_refuses_a_backend_object(tmp_path: Path) -> None:
    from referee.judging.spec import JudgeSpec

    outputs = _outputs(tmp_path / "outputs.jsonl", 2)
    with FaultServer() as srv:
        backend = JudgeSpec(url=srv.url, model="judge-1").backend()
        with pytest.raises(InputError, match=r"cannot take a `?backend`? object"):
            judge(str(outputs), judge_spec={"url": srv.url, "model": "judge-1"}, pairs="round-robin", cache=False,
                  ray="auto", backend=backend)


KILL_SCRIPT = JUDGE + """
import json, sys, time
import referee
from fault_server import FaultServer
from ray_cluster import kill_session

outputs, worker_sid = sys.argv[1], int(sys.argv[2])
srv = FaultServer(answer=fair_judge, delay_s=0.05).start()
killed = {}
def progress(done, total, usage):
    if done >= 60 and not killed:
        killed["processes"] = kill_session(worker_sid)
        killed["done"] = done
res = referee.judge(outputs, judge_spec={"url": srv.url, "model": "judge-1"}, pairs="round-robin", cache=False,
                    concurrency=4, ray="auto", replicas=2, ray_num_cpus=0.5, progress=progress)
t = res.table
bodies = [json.dumps(c.body["messages"], sort_keys=True) for c in srv.calls()]
print(json.dumps({"rows": len(t), "distinct": len(set(zip(t["pair_id"], t["order"]))),
                  "ok": int((t["parse_status"] == "ok").sum()), "calls": len(bodies), "unique": len(set(bodies)),
                  "killed": killed, "ray": res.usage.extra.get("ray")}))
srv.stop()
"""


def test_judging_survives_the_worker_node_being_killed_mid_run(cluster: RayCluster, tmp_path: Path) -> None:
    """Every row exactly once; the server saw at most one concurrency's worth (4) of repeated calls;
    the dead replica was replaced on the surviving node."""
    assert cluster.worker is not None
    outputs = _outputs(tmp_path / "outputs.jsonl", 40)  # 3 pairs x 40 prompts x 2 orders = 240 games
    try:
        got = driver_json(cluster.run(KILL_SCRIPT, str(outputs), str(cluster.worker.pid)))
    finally:
        cluster.worker.wait(timeout=30)
        cluster.start_worker()
    assert got["killed"]["processes"] >= 2, got
    assert got["rows"] == got["distinct"] == got["ok"] == 240, got
    assert got["unique"] == 240 and got["calls"] - got["unique"] <= 4, got
    assert got["ray"]["replaced"] >= 1 and got["ray"]["nodes"] == 2, got
    assert got["ray"]["retried"] >= got["calls"] - got["unique"], got
