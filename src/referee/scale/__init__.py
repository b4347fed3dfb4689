"""Scale-out on a Ray cluster: connect, aggregate shards on Ray Data, run calls on actor replicas.

This package sits low in the layering (beside :mod:`referee.io`): it knows nothing of ranking,
scoring or judging.  Higher packages hand it their functions (dependency injection) —
:mod:`referee.ranking.distributed` gives :func:`~referee.scale.aggregate.aggregate_shards` a
per-shard cell aggregation, :mod:`referee.scoring.distributed` gives
:func:`~referee.scale.batches.map_shards` a scorer factory, and :mod:`referee.judging.distributed`
gives :class:`~referee.scale.actors.ActorPool` (the streaming form of
:func:`~referee.scale.pool.run_pool`) a judge-backend factory.

Ray is optional (``pip install 'referee[ray]'``): no module here imports it at import time, and
every entry point goes through :func:`referee.scale.cluster.require_ray`, which names the extra
to install when Ray is missing.
"""

from __future__ import annotations

__all__: list[str] = []
