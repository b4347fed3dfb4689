"""Run the judge engine over N numbered requests (used by the kill-and-resume test).

    python tests/_judge_worker.py BASE_URL CACHE_PATH N CONCURRENCY
"""

from __future__ import annotations

import sys

from referee.judging.cache import Cache
from referee.judging.engine import Engine
from referee.judging.http import OpenAIBackend
from referee.judging.types import ChatRequest


def requests(n: int) -> list[ChatRequest]:
    return [ChatRequest((("system", "judge"), ("user", f"item {i}")), max_tokens=8) for i in range(n)]


def main() -> None:
    url, cache_path, n, concurrency = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    with Cache(cache_path) as cache:
        engine = Engine(OpenAIBackend(url, "judge-1"), cache=cache, concurrency=concurrency, retries=2, backoff=0.01)
        results, usage = engine.run_sync(requests(n))
    ok = sum(r is not None and r.error is None for r in results)
    print(f"ok={ok} calls={usage.calls} cache_hits={usage.cache_hits}", flush=True)
    sys.exit(0 if ok == n else 1)


if __name__ == "__main__":
    main()
