"""``score`` on a Ray cluster: an actor pool over input shards, each written to a Parquet part.

:func:`score_on_ray` scores model outputs or preference-pair files (the inputs of
:func:`referee.scoring.api.score`) with ``replicas`` copies of the scorer — ``rm:``, ``hf:``,
``dpo:`` or ``length`` — each loaded once in a Ray actor (``num_gpus`` / ``num_cpus`` per
replica), through :func:`referee.scale.batches.map_shards` (Ray Data ``map_batches`` with an
actor pool).  A shard is one input file, read and scored where it runs by
:func:`~referee.scoring.api.score` itself, so every row, column and score is the one the
single-machine ``score`` gives for that file; the parts are streamed to
``parts_dir/part-NNNNN-<digest>.parquet`` and a resumed run skips the shards already written
(same input file, same scorer spec).  Split a large input into several files to spread it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from referee.errors import InputError
from referee.scale.batches import ShardRun, map_shards, read_parts


def shard_scorer(scorer: str, questions: Any, kwargs: dict[str, Any]) -> Callable[[str], pd.DataFrame]:
    """The scorer loaded once (runs in each actor), as a function from an input shard to its scores table."""
    from referee.scoring.local import load_scorer, score_table

    sc = load_scorer(scorer, **kwargs)
    return lambda shard: score_table(shard, sc, questions=questions)


def input_shards(outputs: Any) -> list[str]:
    """The input files (paths, globs, directories, as :func:`referee.io.outputs.expand` expands them)."""
    if isinstance(outputs, pd.DataFrame) or (isinstance(outputs, list) and outputs and isinstance(outputs[0], dict)):
        raise InputError("`ray` scores files (shards every node can read), not a table in memory: write it to "
                         "files, or score it without `ray`", field="ray")
    from referee.io.outputs import expand

    return [str(p) for p in expand(outputs)]


def score_shards_on_ray(
    outputs: Any, scorer: str = "length", ray: str | None = "auto", *, parts_dir: str | Path,
    questions: Any = None, replicas: int = 1, num_cpus: float = 1.0, num_gpus: float = 0.0, **kwargs: Any,
) -> ShardRun:
    """Score every input shard not scored yet into ``parts_dir`` (module docstring); what was done."""
    if not isinstance(scorer, str):
        raise InputError("`scorer` must be a spec (length, rm:DIR, hf:PATH, dpo:…) with `ray`: each worker "
                         "loads its own copy", field="scorer")
    shards = input_shards(outputs)
    job = f"score\0{scorer}\0{questions}\0{sorted(kwargs.items())}"
    factory = functools.partial(shard_scorer, scorer, questions, kwargs)
    return map_shards(shards, factory, parts_dir, job=job, ray=ray, replicas=replicas, num_cpus=num_cpus,
                      num_gpus=num_gpus, what=f"scorer {scorer!r}", field="scorer")


def score_on_ray(
    outputs: Any, scorer: str = "length", ray: str | None = "auto", *, parts_dir: str | Path,
    questions: Any = None, replicas: int = 1, num_cpus: float = 1.0, num_gpus: float = 0.0, **kwargs: Any,
) -> pd.DataFrame:
    """:func:`referee.score` on the Ray cluster ``ray``: the scores table, from the parts in input order.

    ``parts_dir`` keeps the per-shard parts (a rerun with the same inputs and scorer skips the
    shards already there); ``attrs`` say how many shards were computed now and how many skipped.
    For outputs too large for the driver, use :func:`score_shards_on_ray` and
    :func:`referee.scale.batches.concat_parts`."""
    run = score_shards_on_ray(outputs, scorer, ray, parts_dir=parts_dir, questions=questions, replicas=replicas,
                              num_cpus=num_cpus, num_gpus=num_gpus, **kwargs)
    df = read_parts(run.parts)
    df.attrs = {"scorer": scorer, "shards_computed": run.computed, "shards_skipped": run.skipped}
    return df


__all__ = ["score_on_ray", "score_shards_on_ray", "shard_scorer"]
