"""The identity-leak filter: responses that name a model or its maker.

Chatbot Arena drops votes on battles where a response reveals who wrote it ("As ChatGPT,
developed by OpenAI…"), since the vote is then no longer blind.  A response is flagged
when it contains, as a whole word (case-insensitive), a well-known model or vendor name or
a distinctive part of any contestant's name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

KNOWN_NAMES: tuple[str, ...] = (
    "openai", "chatgpt", "gpt", "gpt-3", "gpt-3.5", "gpt-4", "gpt4", "anthropic", "claude", "gemini",
    "bard", "deepmind", "palm", "llama", "meta ai", "mistral", "mixtral", "qwen", "deepseek", "vicuna",
    "alpaca", "falcon", "gemma", "smollm", "phi-3", "cohere", "command r", "grok", "xai", "yi-34b",
)  # fmt: skip
GENERIC = frozenset(
    {"chat", "instruct", "turbo", "base", "preview", "model", "mini", "large", "small", "medium", "latest",
     "beta", "alpha", "sft", "dpo", "rlhf", "hf", "it", "v1", "v2", "v3"}
)  # fmt: skip


def name_parts(model: str) -> list[str]:
    """Distinctive parts of a model name: alphabetic pieces of 4+ letters that are not generic."""
    parts = [p for p in re.split(r"[^A-Za-z]+", model) if len(p) >= 4 and p.lower() not in GENERIC]
    return [model.lower(), *(p.lower() for p in parts)]


def leak_pattern(models: Iterable[str]) -> re.Pattern[str]:
    """One regex matching any known name or contestant-name part as a whole word."""
    words = set(KNOWN_NAMES)
    for m in models:
        words.update(name_parts(m))
    alts = sorted((re.escape(w) for w in words if w), key=len, reverse=True)
    return re.compile(r"(?<![A-Za-z0-9])(?:" + "|".join(alts) + r")(?![A-Za-z])", re.IGNORECASE)


def names_model(text: str, pattern: re.Pattern[str]) -> bool:
    return pattern.search(text) is not None
