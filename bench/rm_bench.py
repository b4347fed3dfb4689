"""Benchmark ``rm:`` reward models: MiniLM scoring throughput and ``train-rm`` with a warm cache.

1. Throughput: MiniLM embeddings of HH-RLHF harmless-base test responses (prompt + response,
   up to 256 tokens, cut from the left) at batch 64 with the cache **off**: responses/s.
2. ``referee train-rm`` (library call and the whole CLI process) on the 2,312 HH-RLHF pairs
   with a warm embedding cache: wall seconds (target ≤ 10 s), nothing re-encoded.

    python bench/rm_bench.py [--n 512] [--cache DIR]

``--cache`` (default: a temporary folder) is warmed first if needed (≈ 2–3 min on 2 cores).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE.parents[1] / "shared" / "data"
HH = DATA / "hh-rlhf" / "harmless-base" / "test.jsonl.gz"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=512, help="responses to encode for the throughput figure")
    ap.add_argument("--cache", type=Path, default=None, help="embedding cache folder (default: temporary)")
    args = ap.parse_args()
    if not HH.exists():
        sys.exit(f"shared data not available: {HH}")
    warnings.simplefilter("ignore")
    os.environ["HF_HUB_OFFLINE"] = "1"
    import torch

    from referee.io import read
    from referee.scoring.encoder import Encoder, join
    from referee.scoring.rm import train_rm

    cache = args.cache or Path(tempfile.mkdtemp(prefix="referee-emb-"))
    df = read(HH)
    texts = [join(p, r) for p, r in zip(df["prompt"], df["response_a"], strict=True)][: args.n]

    cold = Encoder("minilm", cache=False)
    cold.encode(texts[:64])  # load the model, warm up
    t = time.perf_counter()
    cold.encode(texts)
    dt = time.perf_counter() - t
    print(f"MiniLM scoring throughput: {len(texts) / dt:.1f} responses/s (batch 64, {len(texts)} HH-RLHF "
          f"responses, {torch.get_num_threads()} torch threads, {cold.truncated} cut to 256 tokens)")

    enc = Encoder("minilm", cache_dir=cache)
    t = time.perf_counter()
    first = train_rm(HH, holdout=0.2, seed=0, _encoder=enc)
    print(f"warming the cache: {first.encoded} texts encoded in {time.perf_counter() - t:.1f} s" if first.encoded
          else "cache already warm")

    out = Path(tempfile.mkdtemp(prefix="referee-rm-"))
    t = time.perf_counter()
    rep = train_rm(HH, holdout=0.2, seed=0, out=out / "lib", cache_dir=cache)
    lib = time.perf_counter() - t
    print(f"train_rm (library, warm cache, holdout 0.2): {lib:.2f} s; encoded {rep.encoded}; "
          f"accuracy {rep.accuracy:.1%}; phases {', '.join(f'{k} {v:.2f}s' for k, v in rep.seconds.items())}")
    t = time.perf_counter()
    rep5 = train_rm(HH, folds=5, seed=0, out=out / "cv", cache_dir=cache)
    print(f"train_rm (library, warm cache, 5-fold + refit): {time.perf_counter() - t:.2f} s; "
          f"accuracy {rep5.accuracy:.1%} [{rep5.ci[0]:.1%}, {rep5.ci[1]:.1%}]")
    env = dict(os.environ, REFEREE_EMBEDDINGS=str(cache))
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "referee.cli", "train-rm", str(HH), "-o", str(out / "cli"), "-q"],
                   env=env, check=True)
    print(f"referee train-rm (whole process, warm cache): {time.perf_counter() - t:.2f} s (target <= 10 s)")


if __name__ == "__main__":
    main()
