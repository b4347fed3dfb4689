"""Map shards through an actor pool on Ray Data, streaming each result to a Parquet shard: :func:`map_shards`.

``map_shards(shards, factory, out_dir)`` runs ``fn = factory()`` once per actor (``replicas``
actors, each reserving ``num_cpus`` / ``num_gpus``: a reward model loaded once per GPU) and
``fn(shard)`` → a DataFrame for every input shard, with Ray Data's ``map_batches`` over an
actor pool.  Each result is written by the actor, where it was computed, to
``out_dir/part-NNNNN-<digest>.parquet`` (written to a temporary name, then renamed: a shard
file is complete or absent), so nothing but one small row per shard comes back to the driver.

**Resuming.**  ``<digest>`` hashes the input shard's path, size and modification time with the
caller's ``job`` (e.g. the scorer spec): a shard whose output exists is skipped, so a run
stopped halfway (or killed with its node) and started again computes only the missing shards;
changing the input or the job makes new names (stale parts of another job are ignored, see
:func:`parts`).  Ray Data re-runs a shard whose actor died on another actor; the atomic rename
makes the second write of a shard harmless.

A factory that fails on the workers (an import error, a missing model) is reported once, as
the worker's error (:class:`InputError` naming ``what``).
"""

from __future__ import annotations

import hashlib
import os
import pickle
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from referee.errors import InputError
from referee.scale.aggregate import error_payload, raise_payload
from referee.scale.cluster import check_resources, connect


@dataclass(frozen=True)
class ShardRun:
    """What :func:`map_shards` did: the output parts in input order, how many were computed now
    and how many were already there (skipped), and the rows written now."""

    parts: tuple[Path, ...]
    computed: int
    skipped: int
    rows: int


def part_name(index: int, shard: str, job: str) -> str:
    """``part-NNNNN-<digest>.parquet`` for input shard ``index`` (see the module docstring)."""
    try:
        st = os.stat(shard)
        stamp = f"{st.st_size}:{st.st_mtime_ns}"
    except OSError:
        stamp = ""
    digest = hashlib.sha256(f"{os.path.abspath(shard)}\0{stamp}\0{job}".encode()).hexdigest()[:16]
    return f"part-{index:05d}-{digest}.parquet"


def parts(shards: Sequence[str], out_dir: str | Path, job: str) -> list[Path]:
    """The output part of each input shard, in order (present or not)."""
    return [Path(out_dir) / part_name(i, s, job) for i, s in enumerate(shards)]


class ShardMapper:
    """The actor of the pool: ``fn = factory()`` once; each batch of ``{"shard", "out"}`` rows → the
    rows written per shard (``-1`` and the error text when the factory or ``fn`` failed)."""

    #: set on a subclass per run (:func:`mapper_class`): Ray Data then builds actors without arguments
    factory: Callable[[], Callable[[str], pd.DataFrame]] | None = None

    def __init__(self) -> None:
        self.error: str | None = None
        self.fn: Callable[[str], pd.DataFrame] | None = None
        try:
            if self.factory is None:
                raise RuntimeError("no factory")
            self.fn = self.factory()
        except BaseException as e:  # reported once by the driver
            self.error = f"{type(e).__name__}: {e}"

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        rows: list[int] = []
        errors: list[bytes] = []
        for shard, out in zip(batch["shard"], batch["out"], strict=True):
            if self.fn is None:
                rows.append(-1)
                errors.append(pickle.dumps(("load", self.error or "backend not loaded")))
                continue
            try:
                df = self.fn(str(shard))
                tmp = f"{out}.tmp-{os.getpid()}"
                df.to_parquet(tmp, index=False)
                os.replace(tmp, str(out))
                rows.append(len(df))
                errors.append(b"")
            except Exception as e:  # returned as a value: raised once on the driver
                rows.append(-1)
                errors.append(pickle.dumps(error_payload(e)))
        return {"rows": np.asarray(rows, dtype=np.int64), "error": np.asarray(errors, dtype=object)}


def mapper_class(factory: Callable[[], Callable[[str], pd.DataFrame]]) -> type[ShardMapper]:
    """A :class:`ShardMapper` bound to ``factory`` (shipped with the class, not as actor arguments
    kept in the object store)."""
    return type("ShardMapperRun", (ShardMapper,), {"factory": staticmethod(factory)})


def map_shards(
    shards: Sequence[str], factory: Callable[[], Callable[[str], pd.DataFrame]], out_dir: str | Path, *,
    job: str = "", ray: str | None = None, replicas: int = 1, num_cpus: float = 1.0, num_gpus: float = 0.0,
    what: str = "backend", field: str = "ray",
) -> ShardRun:
    """Write ``factory()(shard)`` of every shard not done yet to its Parquet part (module docstring)."""
    cluster = connect(ray)
    check_resources(cluster, replicas=replicas, num_cpus=num_cpus, num_gpus=num_gpus)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    inside = out.resolve()
    shards = [s for s in shards if inside not in Path(s).resolve().parents]  # never our own parts
    targets = parts(shards, out, job)
    todo = [{"shard": str(s), "out": str(t)} for s, t in zip(shards, targets, strict=True) if not t.exists()]
    if not todo:
        return ShardRun(tuple(targets), 0, len(shards), 0)
    import ray as _ray

    ds = _ray.data.from_items(todo, override_num_blocks=len(todo))
    mapped = ds.map_batches(mapper_class(factory), batch_size=1, batch_format="numpy",
                            compute=_ray.data.ActorPoolStrategy(size=min(replicas, len(todo))),
                            num_cpus=num_cpus, num_gpus=num_gpus)
    written = 0
    for batch in mapped.iter_batches(batch_size=None, batch_format="numpy"):
        for n, err in zip(batch["rows"], batch["error"], strict=True):
            if n >= 0:
                written += int(n)
                continue
            kind, value = pickle.loads(err)
            if kind == "load":
                raise InputError(f"a Ray worker could not load the {what} (`{field}`): {value}", field=field)
            raise_payload(kind, value, f"the {what} on a Ray worker")
    return ShardRun(tuple(targets), len(todo), len(shards) - len(todo), written)


def read_parts(paths: Sequence[Path]) -> pd.DataFrame:
    """The output parts concatenated in order (what a caller returns as one table)."""
    frames = [pd.read_parquet(p) for p in paths]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def concat_parts(paths: Sequence[Path], target: str | Path) -> int:
    """Stream the parts, in order, into one Parquet file (one part in memory at a time); the rows."""
    import pyarrow.parquet as pq

    writer = None
    rows = 0
    tmp = f"{target}.tmp-{os.getpid()}"
    try:
        for p in paths:
            t = pq.read_table(p)
            if writer is None:
                writer = pq.ParquetWriter(tmp, t.schema)
            writer.write_table(t.cast(writer.schema))
            rows += t.num_rows
    finally:
        if writer is not None:
            writer.close()
    if writer is not None:
        os.replace(tmp, str(target))
    return rows


__all__ = ["ShardMapper", "ShardRun", "concat_parts", "map_shards", "part_name", "parts", "read_parts"]
