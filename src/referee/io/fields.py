"""Typed access to the fields of one JSON record, with errors that name file, line and field."""

from __future__ import annotations

import math
from typing import Any, NoReturn

from referee.errors import InputError


def type_and_value(value: Any) -> str:
    """A short ``type value`` description for error messages."""
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{type(value).__name__} {text}"


class Fields:
    """One record (a dict) plus where it came from."""

    def __init__(self, rec: dict[str, Any], path: str, line: int) -> None:
        self.rec = rec
        self.path = path
        self.line = line

    def error(self, message: str, field: str | None = None) -> NoReturn:
        raise InputError(message, path=self.path, line=self.line, field=field)

    def has(self, key: str) -> bool:
        return self.rec.get(key) is not None

    def raw(self, key: str, required: bool = True) -> Any:
        value = self.rec.get(key)
        if value is None and required:
            self.error("missing required field" if key not in self.rec else "required field is null", key)
        return value

    def text(self, key: str, required: bool = True) -> str | None:
        """A string field (never coerced from another type)."""
        value = self.raw(key, required)
        if value is not None and not isinstance(value, str):
            self.error(f"wrong type: expected a string, got {type_and_value(value)}", key)
        return value

    def ident(self, key: str, required: bool = True) -> str | None:
        """An identifier: a string or an integer, returned as a string."""
        value = self.raw(key, required)
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        self.error(f"wrong type: expected a string or integer id, got {type_and_value(value)}", key)

    def number(self, key: str, required: bool = True) -> float | None:
        """A JSON number (not a boolean, not a string)."""
        value = self.raw(key, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.error(f"wrong type: expected a number, got {type_and_value(value)}", key)
        try:
            return float(value)
        except OverflowError:
            self.error(f"number out of range: {type_and_value(value)}", key)

    def integer(self, key: str, required: bool = True) -> int | None:
        """An integer (an integral float such as ``2.0`` is accepted)."""
        value = self.number(key, required)
        if value is None:
            return None
        if not math.isfinite(value) or not value.is_integer():
            self.error(f"wrong type: expected an integer, got {type_and_value(self.rec[key])}", key)
        return int(value)

    def boolean(self, key: str, required: bool = True) -> bool | None:
        value = self.raw(key, required)
        if value is not None and not isinstance(value, bool):
            self.error(f"wrong type: expected true/false, got {type_and_value(value)}", key)
        return value

    def messages(self, key: str, role: str, required: bool = True) -> list[str] | None:
        """The texts of the ``role`` turns of a chat (list of ``{role, content}``)."""
        conv = self.raw(key, required)
        if conv is None:
            return None
        if not isinstance(conv, list):
            self.error(f"wrong type: expected a list of {{role, content}} messages, got {type_and_value(conv)}", key)
        out = []
        for msg in conv:
            if not isinstance(msg, dict) or not isinstance(msg.get("role"), str):
                self.error(f"wrong type: expected a {{role, content}} message, got {type_and_value(msg)}", key)
            if msg["role"] == role:
                out.append(self._content(msg.get("content"), key))
        return out

    def _content(self, content: Any, key: str) -> str:
        if content is None:
            return ""
        if isinstance(content, str):
            return content
        if isinstance(content, list):  # multimodal parts: [{"type": "text", "text": ...}, ...]
            parts = []
            for part in content:
                if isinstance(part, str):
                    parts.append(part)
                elif isinstance(part, dict) and isinstance(part.get("text"), str):
                    parts.append(part["text"])
            return "\n".join(parts)
        self.error(f"wrong type: message content must be text, got {type_and_value(content)}", key)
