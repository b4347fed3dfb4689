"""One error type for everything a user gave us that we cannot accept.

The CLI turns :class:`InputError` into exit code 2 and a single line naming the
file, line and field; library callers can catch it and read the parts.
"""

from __future__ import annotations

from pathlib import PurePath


class InputError(ValueError):
    """Bad user input, located as precisely as we can: file, line (1-based), field."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.path = None if path is None else str(path)
        self.line = line
        self.field = field
        super().__init__(str(self))

    def __str__(self) -> str:
        parts = [self.path or "<input>"]
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.field is not None:
            parts.append(f"field '{self.field}'")
        return f"{', '.join(parts)}: {self.message}"

    def located(self, *, path: str | None = None, line: int | None = None) -> InputError:
        """The same error with a path/line filled in where it was missing."""
        return InputError(
            self.message,
            path=self.path or path,
            line=self.line if self.line is not None else line,
            field=self.field,
        )


def source_name(data: object) -> str | None:
    """The file name(s) a table was read from, for :class:`InputError`'s ``path`` (None for a DataFrame)."""
    if isinstance(data, str | PurePath):
        return str(data)
    if isinstance(data, list | tuple) and data and all(isinstance(d, str | PurePath) for d in data):
        return ", ".join(map(str, data))
    return None


class RefereeWarning(UserWarning):
    """Something in the input that referee accepted but the user should know about.

    The CLI prints these as one line ``referee: warning: …`` on stderr; library callers
    can filter them with :mod:`warnings` like any other warning.
    """


class NameWarning(RefereeWarning):
    """Model names that differ only by letter case or surrounding whitespace (``gpt-4`` / ``GPT-4 ``)."""
