"""A distributed aggregation over shards on Ray Data: map each shard to a partial, fold on the driver.

``aggregate_shards(shards, partial, combine, initial)`` computes

    combine(… combine(combine(initial, partial(s₁)), partial(s₂)) …, partial(sₙ))

with the ``partial`` calls spread over the cluster as Ray Data tasks (one shard — one Parquet
or JSONL file — per task, read where it runs) and the fold on the driver, in shard order, as
the partials stream back.  The driver holds the accumulator and at most a few partials at a
time, so its memory is bounded by the size of a partial (for rank: the number of cells), never
by the number of rows; the rows are read and reduced on the workers.

Partials cross the cluster pickled (one binary cell per shard).  A partial that raises is not
a traceback per task: the first failure is returned by the worker as a value and raised once
on the driver — an :class:`~referee.errors.InputError` (bad data, with its file, line and field)
as itself, anything else as a :class:`ShardError` naming the shard.  A task lost with its node
is re-run by Ray Data on a surviving node (its tasks are retried), so every shard is folded
exactly once.

``order`` keeps the fold in shard order (Ray Data's ``preserve_order``): the result is then the
one a loop over the shards gives, which matters for anything built by first appearance
(cluster units in :mod:`referee.ranking.distributed`).
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np

from referee.errors import InputError
from referee.scale.cluster import connect

P = TypeVar("P")
A = TypeVar("A")


class ShardError(RuntimeError):
    """A partial failed on a worker for a reason other than bad input (the worker's error, once)."""


def error_payload(e: BaseException) -> tuple[str, Any]:
    if isinstance(e, InputError):
        return "input", (e.template, e.path, e.line, e.field)
    return "other", f"{type(e).__name__}: {e}"


class ApplyPartial:
    """The Ray Data map function: one batch of ``{"i", "shard"}`` rows → ``{"i", "payload"}``
    with each payload the pickled ``("ok", partial)`` or ``("input"|"other", error)``."""

    def __init__(self, partial: Callable[[str], Any]) -> None:
        self.partial = partial

    def __call__(self, batch: Any) -> dict[str, np.ndarray]:  # Any: Ray Data's batch union; numpy here
        payloads = []
        for shard in batch["shard"]:
            try:
                out: tuple[str, Any] = ("ok", self.partial(str(shard)))
            except Exception as e:  # returned as a value: raised once on the driver
                out = error_payload(e)
            payloads.append(pickle.dumps(out, protocol=pickle.HIGHEST_PROTOCOL))
        return {"i": np.asarray(batch["i"]), "payload": np.array(payloads, dtype=object)}


def raise_payload(kind: str, value: Any, shard: str) -> None:
    """Raise a worker's failure on the driver: bad input as the :class:`InputError` it was."""
    if kind == "input":
        template, path, line, fld = value
        raise InputError(template, path=path or shard, line=line, field=fld)
    raise ShardError(f"{shard}: {value}")


def aggregate_shards(
    shards: Sequence[str], partial: Callable[[str], P], combine: Callable[[A, P], A], initial: A, *,
    ray: str | None = None, num_cpus: float = 1.0, order: bool = True,
) -> A:
    """Fold ``partial(shard)`` over ``shards`` into ``initial`` with ``combine``, the partials on the cluster.

    ``partial`` must be importable on the workers (a function of an installed module, or a
    picklable callable); ``num_cpus`` is reserved per task.  See the module docstring for
    memory, failures and order."""
    if not shards:
        return initial
    connect(ray)
    import ray as _ray
    from ray.data import DataContext

    ctx = DataContext.get_current()
    before = ctx.execution_options.preserve_order
    ctx.execution_options.preserve_order = order
    try:
        items = [{"i": i, "shard": str(s)} for i, s in enumerate(shards)]
        ds = _ray.data.from_items(items, override_num_blocks=len(items))
        out = ds.map_batches(ApplyPartial(partial), batch_size=1, batch_format="numpy", num_cpus=num_cpus,
                             zero_copy_batch=True)
        acc = initial
        for batch in out.iter_batches(batch_size=1, batch_format="numpy", prefetch_batches=1):
            for i, payload in zip(batch["i"], batch["payload"], strict=True):
                kind, value = pickle.loads(payload)
                if kind != "ok":
                    raise_payload(kind, value, str(shards[int(i)]))
                acc = combine(acc, value)
        return acc
    finally:
        ctx.execution_options.preserve_order = before


__all__ = ["ApplyPartial", "ShardError", "aggregate_shards", "error_payload", "raise_payload"]
