"""rank, score and the actor pool on a real two-node Ray cluster (tests/ray_cluster.py).

Each test runs its Ray part as a driver script inside the cluster's loopback-only network
namespace and checks the JSON it prints.  The worker-kill test comes last: it kills the worker
node and starts it again.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ray_cluster import RayCluster, available, driver_json
from shared_data import DATA, need

pytestmark = pytest.mark.skipif(available() is not None, reason=str(available()))

PRD_HUMAN = DATA / "prd-peer-rank" / "data" / "vicuna80" / "ratings-human"




def _synthetic_shards(root: Path) -> Path:
    """Five shards (Parquet and JSONL) with weights, soft verdicts, graded-free ties, repeated pairs,
    rows without a pair id, and self-battles."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(7)
    models = [f"m{i}" for i in range(8)]
    out = root / "votes"
    out.mkdir()
    for k in range(5):
        n = 300
        a = rng.integers(0, 8, n)
        b = (a + rng.integers(1, 8, n)) % 8
        df = pd.DataFrame({
            "model_a": [models[i] for i in a], "model_b": [models[i] for i in b],
            "winner": rng.choice(["model_a", "model_b", "tie", "tie (bothbad)"], n, p=[0.4, 0.4, 0.1, 0.1]),
            "weight": rng.choice([1.0, 2.0, 0.5], n), "prompt_id": [f"p{j}" for j in rng.integers(0, 40, n)],
            "pair_id": [f"q{j}" for j in rng.integers(0, 600, n)],
            "prob_a": np.where(rng.random(n) < 0.3, rng.uniform(0.05, 0.95, n), np.nan),
        })  # fmt: skip
        df.loc[rng.random(n) < 0.05, "pair_id"] = None
        df.loc[:3, "model_b"] = df.loc[:3, "model_a"]
        if k % 2:
            df.to_parquet(out / f"part-{k}.parquet")
        else:
            df.to_json(out / f"part-{k}.jsonl", orient="records", lines=True)
    return out


RANK_SCRIPT = """
import json, sys
import numpy as np
import referee
from referee.ranking.distributed import rank_on_ray
from referee.scale.cluster import describe

worst = {}
for data, options in json.loads(sys.argv[1]):
    local = referee.rank(data, **options)
    remote = rank_on_ray(data, "auto", **options)
    a = local.table.set_index("model")
    b = remote.table.set_index("model").loc[a.index]
    key = data.rsplit("/", 1)[-1] + " " + json.dumps(options, sort_keys=True)
    worst[key] = {
        "rating": float(np.abs(a["rating"] - b["rating"]).max()),
        "ci": float(np.nanmax(np.abs(a[["ci_low", "ci_high"]].to_numpy() - b[["ci_low", "ci_high"]].to_numpy()))),
        "counts": float(np.abs(a[["wins", "losses", "ties"]].to_numpy(float)
                               - b[["wins", "losses", "ties"]].to_numpy(float)).max()),
        "meta": sorted(k for k in local.meta if k != "loglik" and str(local.meta[k]) != str(remote.meta.get(k))),
        "n": remote.meta["n_comparisons"], "cluster": remote.meta["cluster"],
    }
print(json.dumps({"nodes": describe().nodes, "worst": worst}))
"""


def test_rank_on_two_nodes_equals_the_single_machine_rank(cluster: RayCluster, tmp_path: Path) -> None:
    prd = str(need(PRD_HUMAN))
    votes = str(_synthetic_shards(tmp_path))
    cases = [
        (prd, {}), (prd, {"ci": "bootstrap", "rounds": 40}), (prd, {"model": "davidson", "cluster": "prompt_id"}),
        (votes, {}), (votes, {"cluster": "none", "ci": "bootstrap", "rounds": 30}), (votes, {"model": "rao-kupper"}),
    ]  # fmt: skip
    got = driver_json(cluster.run(RANK_SCRIPT, json.dumps(cases)))
    assert got["nodes"] == 2
    for key, w in got["worst"].items():
        assert w["rating"] <= 1e-9, key
        assert w["ci"] <= 1e-9, key
        assert w["counts"] <= 1e-9 and w["meta"] == [], (key, w)
    prd_plain = got["worst"]["ratings-human {}"]
    assert prd_plain["n"] == 7040
    assert got["worst"]["votes {}"]["cluster"] == "pair_id"  # pairs repeat: clustered by default, as locally


CLI_RANK_SCRIPT = """
import json, subprocess, sys
import pandas as pd

data, out = sys.argv[1], sys.argv[2]
boards = {}
for name, extra in (("local", []), ("ray", ["--ray", "auto"])):
    path = f"{out}/{name}.json"
    proc = subprocess.run([sys.executable, "-m", "referee.cli", "rank", data, "-q", "-o", path, *extra],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    boards[name] = pd.DataFrame(json.load(open(path))["models"]).set_index("model")
refused = subprocess.run([sys.executable, "-m", "referee.cli", "rank", data, "--ray", "auto", "--by", "prompt_id"],
                         capture_output=True, text=True)
a, b = boards["local"], boards["ray"].loc[boards["local"].index]
print(json.dumps({"worst": float((a["rating"] - b["rating"]).abs().max()),
                  "ci": float((a[["ci_low", "ci_high"]] - b[["ci_low", "ci_high"]]).abs().max().max()),
                  "refused": [refused.returncode, refused.stderr.strip()]}))
"""


def test_referee_rank_with_ray_equals_the_local_command(cluster: RayCluster, tmp_path: Path) -> None:
    """The public path: ``referee rank FILES --ray auto`` (through ``referee.rank(..., ray=)``)."""
    votes = str(_synthetic_shards(tmp_path))
    got = driver_json(cluster.run(CLI_RANK_SCRIPT, votes, str(tmp_path)))
    assert got["worst"] <= 1e-9 and got["ci"] <= 1e-9, got
    code, message = got["refused"]
    assert code == 2 and message == ("referee: error: --ray cannot run with --by or --where: segments and filters "
                                     "are chosen on rows; rank without --ray"), message


SCORE_SCRIPT = """
import json, sys
from pathlib import Path
import pandas as pd
import referee
from referee.scoring.distributed import score_on_ray

data, parts = sys.argv[1], sys.argv[2]
local = referee.score(data, "length:tokens")
first = score_on_ray(data, "length:tokens", "auto", parts_dir=parts, replicas=2, num_cpus=0.5)
pd.testing.assert_frame_equal(local.reset_index(drop=True), first.reset_index(drop=True), check_dtype=False,
                              rtol=1e-12)
again = score_on_ray(data, "length:tokens", "auto", parts_dir=parts, replicas=2, num_cpus=0.5)
victim = sorted(Path(parts).glob("part-00002-*.parquet"))[0]
victim.unlink()
resumed = score_on_ray(data, "length:tokens", "auto", parts_dir=parts, replicas=2, num_cpus=0.5)
pd.testing.assert_frame_equal(local.reset_index(drop=True), resumed.reset_index(drop=True), check_dtype=False)
print(json.dumps({"rows": len(first), "first": first.attrs, "again": again.attrs, "resumed": resumed.attrs}))
"""


def test_score_on_two_nodes_equals_local_and_a_rerun_skips_finished_shards(cluster: RayCluster,
                                                                           tmp_path: Path) -> None:
    import pandas as pd

    data = tmp_path / "outputs"
    data.mkdir()
    for k in range(4):
        rows = [{"prompt": f"question {i}", "model": f"model-{k}", "response": "word " * (i * (k + 1))}
                for i in range(40)]
        frame = pd.DataFrame(rows)
        if k % 2:
            frame.to_parquet(data / f"out-{k}.parquet")
        else:
            frame.to_json(data / f"out-{k}.jsonl", orient="records", lines=True)
    got = driver_json(cluster.run(SCORE_SCRIPT, str(data), str(tmp_path / "parts")))
    assert got["rows"] == 160
    assert (got["first"]["shards_computed"], got["first"]["shards_skipped"]) == (4, 0)
    assert (got["again"]["shards_computed"], got["again"]["shards_skipped"]) == (0, 4)
    assert (got["resumed"]["shards_computed"], got["resumed"]["shards_skipped"]) == (1, 3)


CLI_SCORE_SCRIPT = """
import json, subprocess, sys
import pandas as pd

data, out = sys.argv[1], sys.argv[2]
def run(*args):
    return subprocess.run([sys.executable, "-m", "referee.cli", "score", data, "--scorer", "length:tokens", "-q", *args],
                          capture_output=True, text=True)
local, remote = run("-o", f"{out}/local.jsonl"), run("-o", f"{out}/ray.jsonl", "--ray", "auto", "--replicas", "2",
                                                     "--ray-num-cpus", "0.5")
assert local.returncode == 0 and remote.returncode == 0, local.stderr + remote.stderr
a = pd.read_json(f"{out}/local.jsonl", lines=True)
b = pd.read_json(f"{out}/ray.jsonl", lines=True)
gpu = run("--ray", "auto", "--ray-num-gpus", "1")
print(json.dumps({"equal": bool(a[["prompt_id", "model", "score"]].equals(b[["prompt_id", "model", "score"]])),
                  "rows": len(b), "parts": sorted(p.name for p in __import__("pathlib").Path(f"{out}/ray.jsonl.parts").glob("*.parquet")),
                  "gpu": [gpu.returncode, gpu.stderr.strip()]}))
"""


def test_referee_score_with_ray_equals_the_local_command(cluster: RayCluster, tmp_path: Path) -> None:
    """The public path: ``referee score FILES --ray auto --replicas 2`` (through ``referee.score(..., ray=)``);
    a GPU request on a CPU cluster names the flag."""
    import pandas as pd

    data = tmp_path / "outputs"
    data.mkdir()
    for k in range(3):
        pd.DataFrame([{"prompt": f"q {i}", "model": f"m{k}", "response": "w " * (i + k)} for i in range(25)]).to_json(
            data / f"out-{k}.jsonl", orient="records", lines=True)
    got = driver_json(cluster.run(CLI_SCORE_SCRIPT, str(data), str(tmp_path)))
    assert got["equal"] and got["rows"] == 75 and len(got["parts"]) == 3, got
    code, message = got["gpu"]
    assert code == 2 and "(--ray-num-gpus=1)" in message and "largest node has 0" in message, message


BAD_SCRIPT = """
import json
from referee.errors import InputError
from referee.scale.pool import run_pool

def broken_backend():
    import referee_judge_model_that_is_not_installed  # noqa: F401

out = {}
for name, kwargs, factory in [
    ("gpu", {"num_gpus": 1}, lambda: (lambda x: x)),
    ("cpus", {"replicas": 5, "num_cpus": 1}, lambda: (lambda x: x)),
    ("import", {"replicas": 2, "num_cpus": 0.5}, broken_backend),
]:
    try:
        run_pool(factory, [(i, i) for i in range(5)], lambda k, v: None, ray="auto", what="judge", **kwargs)
        out[name] = None
    except InputError as e:
        out[name] = str(e)
print(json.dumps(out))
"""


def test_a_short_cluster_and_a_worker_import_error_are_clear_messages(cluster: RayCluster) -> None:
    proc = cluster.run(BAD_SCRIPT)
    got = driver_json(proc)
    assert "no node of the Ray cluster has 1 GPUs" in got["gpu"] and "num_gpus" in got["gpu"]
    assert "2 CPUs in all" in got["cpus"] and "5 replicas" in got["cpus"]
    assert got["import"].startswith("a Ray worker could not load the judge")
    assert got["import"].count("No module named 'referee_judge_model_that_is_not_installed'") == 1
    assert "Traceback" not in proc.stderr


POOL_SCRIPT = """
import json, sys, time
from ray_cluster import counting_server, kill_session
from referee.scale.pool import run_pool

url, counts = counting_server()
worker_sid, n = int(sys.argv[1]), int(sys.argv[2])
KILL_AT = n // 4

def backend():  # built once per replica; pickled by value with this script
    import json, urllib.request
    def call(key):
        req = urllib.request.Request(url, data=json.dumps({"key": key}).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())["value"]
    return call

results, killed = {}, {}
def on_result(key, value):
    assert key not in results
    results[key] = value
    if len(results) == KILL_AT and not killed:
        killed["processes"] = kill_session(worker_sid)
        killed["at"] = time.monotonic()

report = run_pool(backend, [(i, i) for i in range(n)], on_result, ray="auto", replicas=2, num_cpus=0.5,
                  per_replica=2, what="judge")
print(json.dumps({"results": {str(k): v for k, v in results.items()}, "counts": counts, "killed": killed,
                  "report": report.__dict__}))
"""


def test_the_pool_survives_the_worker_node_being_killed_mid_run(cluster: RayCluster) -> None:
    """Every row exactly once with the right value; the HTTP server saw at most one concurrency's
    worth (replicas × per_replica) of repeated calls; the dead replica was replaced."""
    assert cluster.worker is not None
    n = 200
    try:
        got = driver_json(cluster.run(POOL_SCRIPT, str(cluster.worker.pid), str(n)))
    finally:
        cluster.worker.wait(timeout=30)
        cluster.start_worker()
    assert got["killed"]["processes"] >= 2  # the raylet and its workers, at least
    assert sorted(map(int, got["results"])) == list(range(n))
    assert all(v == 2 * int(k) for k, v in got["results"].items())
    assert set(got["counts"]) == {str(i) for i in range(n)}
    repeated = sum(got["counts"].values()) - n
    assert repeated <= 2 * 2, got["counts"]
    report = got["report"]
    assert report["completed"] == n and report["replaced"] >= 1 and report["nodes"] == 2
    assert report["retried"] >= repeated
