"""Connecting to a Ray cluster, and checking it has what a run asks for.

``ray`` (the ``ray=`` keyword of the library functions, ``--ray`` on the command line) is:

* ``"auto"`` — the cluster named by ``RAY_ADDRESS``, else the one ``ray start --head`` started on
  this machine (Ray's own ``auto`` lookup);
* ``"HOST:PORT"`` or ``"ray://HOST:PORT"`` — that cluster's GCS (or Ray Client) address;
* ``"local"`` — a throw-away single-node Ray inside this process (for trying things out);
* ``None`` — ``RAY_ADDRESS`` when set, else ``"auto"``.

Before Ray is asked to connect, the address is probed with a plain TCP connection
(:data:`PROBE_TIMEOUT` seconds), so an unreachable address is an :class:`InputError` within
seconds, before anything is read or spent — Ray itself would retry for a minute or more.
An already connected driver (``ray.init`` called by the user) is reused as it is.

Ray is imported only inside these functions: ``import referee`` (and every other module of
referee) never imports it, and without it installed every use names the extra to install.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from referee.errors import InputError

#: seconds a TCP probe of the cluster's address may take before the address counts as unreachable
PROBE_TIMEOUT = 3.0
#: what to install for ``ray=`` (``--ray``)
EXTRA = "pip install 'referee[ray]'"
#: where ``ray start --head`` writes the address of the cluster it started (Ray's ``auto`` lookup)
CURRENT_CLUSTER = Path("/tmp/ray/ray_current_cluster")


@dataclass(frozen=True)
class Cluster:
    """The cluster a run uses: its address, live nodes and total resources (``CPU``, ``GPU``, …)."""

    address: str
    nodes: int
    resources: dict[str, float] = field(default_factory=dict)
    per_node: tuple[dict[str, float], ...] = ()


def require_ray() -> ModuleType:
    """The ``ray`` module, or an :class:`InputError` naming the extra to install."""
    try:
        import ray
    except ImportError:
        raise InputError(f"`ray` needs Ray, which is not installed here: {EXTRA}", field="ray") from None
    return ray


def resolve(address: str | None) -> str:
    """The address to connect to: ``None`` → ``RAY_ADDRESS`` or ``"auto"``; ``"auto"`` →
    ``RAY_ADDRESS``, else the address ``ray start --head`` left in :data:`CURRENT_CLUSTER`
    (``"auto"`` itself when neither exists: Ray then says no cluster is running)."""
    if address is None or not str(address).strip():
        address = os.environ.get("RAY_ADDRESS") or "auto"
    address = str(address).strip()
    if address == "auto":
        env = os.environ.get("RAY_ADDRESS")
        if env and env != "auto":
            return env
        try:
            found = CURRENT_CLUSTER.read_text(encoding="utf-8").strip()
        except OSError:
            found = ""
        return found or "auto"
    return address


def host_port(address: str) -> tuple[str, int] | None:
    """``(host, port)`` of ``HOST:PORT`` or ``ray://HOST:PORT``; None for ``auto`` / ``local``."""
    if address in ("auto", "local"):
        return None
    rest = address.split("://", 1)[1] if "://" in address else address
    host, sep, port = rest.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise InputError(f"`ray` must be 'auto', 'local', HOST:PORT or ray://HOST:PORT, got {address!r}",
                         field="ray")
    return host.strip("[]"), int(port)


def probe(address: str, timeout: float = PROBE_TIMEOUT) -> None:
    """Refuse an address nothing listens on, within ``timeout`` seconds (one TCP connect)."""
    hp = host_port(address)
    if hp is None:
        return
    try:
        with socket.create_connection(hp, timeout=timeout):
            return
    except OSError as e:
        reason = "timed out" if isinstance(e, TimeoutError) else (e.strerror or type(e).__name__)
        raise InputError(
            f"cannot reach the Ray cluster at {address} ({reason} within {timeout:g}s): start one with "
            "`ray start --head`, or give `ray` the address of a running cluster (nothing was run)", field="ray"
        ) from None


def connect(address: str | None = None) -> Cluster:
    """Connect this process to the cluster (:func:`resolve`, :func:`probe`, then ``ray.init``).

    Ray's own logging is kept to errors and Ray Data's progress bars are turned off, so a run's
    output is referee's.  Returns what the cluster has (:func:`describe`)."""
    ray = require_ray()
    if ray.is_initialized():
        return describe()
    target = resolve(address)
    probe(target)
    kwargs: dict[str, Any] = {"logging_level": "ERROR", "log_to_driver": False, "include_dashboard": False}
    try:
        if target == "local":
            ray.init(**kwargs)
        else:
            kwargs.pop("include_dashboard")
            ray.init(address=target, **kwargs)
    except ConnectionError as e:
        raise InputError(f"no Ray cluster to connect to at {target!r} (`ray`): {e}. Start one with "
                         "`ray start --head` or pass its address (nothing was run)", field="ray") from None
    _quiet_data()
    return describe()


def _quiet_data() -> None:
    """Ray Data without progress bars (they would interleave with referee's own output)."""
    import logging

    from ray.data import DataContext

    for name in ("ray.data", "ray.data._internal.execution.streaming_executor"):
        logging.getLogger(name).setLevel(logging.ERROR)
    ctx = DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False


def describe() -> Cluster:
    """The connected cluster's address, live nodes and resources."""
    ray = require_ray()
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    per_node = tuple({k: float(v) for k, v in n.get("Resources", {}).items()} for n in nodes)
    total: dict[str, float] = {}
    for res in per_node:
        for k, v in res.items():
            total[k] = total.get(k, 0.0) + v
    ctx = ray.get_runtime_context()
    address = str(getattr(ctx, "gcs_address", "") or "")
    return Cluster(address=address, nodes=len(nodes), resources=total, per_node=per_node)


def check_resources(
    cluster: Cluster, *, replicas: int = 1, num_cpus: float = 1.0, num_gpus: float = 0.0,
    resources: dict[str, float] | None = None,
) -> None:
    """Refuse a request the cluster can never place, saying which resource is short.

    Each of ``replicas`` replicas needs ``num_cpus`` CPUs, ``num_gpus`` GPUs and ``resources``
    (custom resources) on *one* node; all of them together must fit the cluster's totals (else
    some would wait forever).  Parameters are named as the library's keywords (``num_gpus``),
    which the CLI spells as its flags."""
    if replicas < 1:
        raise InputError(f"`replicas` must be at least 1, got {replicas}", field="replicas")
    need = {"CPU": float(num_cpus), "GPU": float(num_gpus), **{k: float(v) for k, v in (resources or {}).items()}}
    names = {"CPU": "num_cpus", "GPU": "num_gpus"}
    for res, amount in need.items():
        if amount < 0:
            raise InputError(f"`{names.get(res, 'resources')}` must be >= 0, got {amount:g}",
                             field=names.get(res, "resources"))
        if amount == 0:
            continue
        label = {"CPU": "CPUs", "GPU": "GPUs"}.get(res, f"of resource {res!r}")
        largest = max((n.get(res, 0.0) for n in cluster.per_node), default=0.0)
        param = names.get(res, "resources")
        if largest < amount:
            raise InputError(
                f"no node of the Ray cluster has {amount:g} {label} for one replica (`{param}`={amount:g}); "
                f"the largest node has {largest:g} ({cluster.nodes} node(s) at {cluster.address or 'the cluster'})",
                field=param,
            )
        total = cluster.resources.get(res, 0.0)
        if total < amount * replicas:
            raise InputError(
                f"the Ray cluster has {total:g} {label} in all; {replicas} replicas (`replicas`) × {amount:g} "
                f"(`{param}`) need {amount * replicas:g}", field="replicas",
            )


def wait_for_nodes(n: int, timeout: float = 60.0) -> Cluster:
    """Wait until the connected cluster has ``n`` live nodes (a test's or a bench's set-up)."""
    deadline = time.monotonic() + timeout
    while True:
        cluster = describe()
        if cluster.nodes >= n:
            return cluster
        if time.monotonic() > deadline:
            raise RuntimeError(f"the Ray cluster has {cluster.nodes} live node(s) after {timeout:g}s, expected {n}")
        time.sleep(0.2)


__all__ = ["Cluster", "check_resources", "connect", "describe", "probe", "require_ray", "resolve"]
