"""One error type for everything a user gave us that we cannot accept.

The CLI turns :class:`InputError` into exit code 2 and a single line naming the
file, line and field; library callers can catch it and read the parts.

Messages speak of the function's parameters, each marked in backticks:
``"`anchor` must look like MODEL=RATING"``, ``"pass `baseline=MODEL`"``,
``"use `ci='bootstrap'`"``.  A library caller reads them without the backticks
(``anchor must look like MODEL=RATING``, ``use ci='bootstrap'``); the command line
spells each marked parameter as its flag (``--anchor must look like MODEL=RATING``,
``use --ci bootstrap``; :meth:`InputError.render`, :func:`referee.cli.base.fail`).
A marker is one backtick-quoted Python identifier, optionally followed by ``=`` and a
value: a quoted literal (``'bootstrap'``), ``True``/``False``, or a placeholder
(``MODEL``).  Backtick-quoted text of any other shape (a shell command such as
```referee demo --simulated```) is left as it is.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from pathlib import PurePath
from typing import NamedTuple

#: a parameter named in a message: `name` or `name=value`
PARAM = re.compile(r"`([A-Za-z_][A-Za-z0-9_]*)(?:=([^`\n]*))?`")
#: the source name of a table handed over as a pandas DataFrame (its errors name it like a file)
DATAFRAME = "<DataFrame>"


class Flag(NamedTuple):
    """How a library parameter is spelt on the command line: the flag that sets it (``--anchor``)
    and, for a boolean, the flag that turns it off (``soft`` is turned off by ``--hard``)."""

    on: str | None
    off: str | None = None


def mentioned(message: str) -> list[str]:
    """The parameters a message marks, in order of appearance."""
    return [m.group(1) for m in PARAM.finditer(message)]


def as_parameters(message: str) -> str:
    """The message as a library caller reads it: the markers without their backticks."""
    return PARAM.sub(lambda m: m.group(0)[1:-1], message)


def as_flags(message: str, flags: Mapping[str, Flag]) -> str:
    """The message as a command-line user reads it: each marked parameter that ``flags`` knows
    spelt as its flag (``anchor`` → ``--anchor``, ``ci='bootstrap'`` → ``--ci bootstrap``,
    ``lc=True`` → ``--lc``, ``soft=False`` → ``--hard``, ``baseline=MODEL`` → ``--baseline MODEL``);
    the others as parameters."""

    def one(m: re.Match[str]) -> str:
        name, value = m.group(1), m.group(2)
        plain = m.group(0)[1:-1]
        flag = flags.get(name)
        if flag is None:
            return plain
        if value in ("True", "False"):
            return (flag.on if value == "True" else flag.off) or plain
        if flag.on is None:
            return plain
        if value is None:
            return flag.on
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = shlex.quote(value[1:-1])
        return f"{flag.on} {value}"

    return PARAM.sub(one, message)


class InputError(ValueError):
    """Bad user input, located as precisely as we can: file, line (1-based), field.

    ``message`` is the text a library caller reads; ``template`` keeps the parameter markers
    (module docstring) from which :meth:`render` spells flags for the command line.  An
    error about a parameter's value (its ``field`` is a parameter the message marks, or, on
    the command line, an option of the running command) is located by that parameter,
    never by a file or ``<input>``.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.template = message
        self.message = as_parameters(message)
        self.path = None if path is None else str(path)
        self.line = line
        self.field = field
        super().__init__(str(self))

    @property
    def parameters(self) -> list[str]:
        """The parameters the message names."""
        return mentioned(self.template)

    def __str__(self) -> str:
        return self.render()

    def render(self, flags: Mapping[str, Flag] | None = None) -> str:
        """``location: message``; with ``flags`` (parameter → :class:`Flag`: the running command's
        options) as the command line shows it.

        The location is the file, line and field when the error has a file or a line.  Without
        them, an error about a parameter is located by the parameter: no prefix when the message
        marks it (``anchor must look like …``), else its flag (``--graded: …``) when ``flags``
        know it.  Anything else is ``<input>, field …`` (a table given in memory).
        """
        text = self.message if flags is None else as_flags(self.template, flags)
        if self.path is None and self.line is None and self.field is not None:
            if self.field in self.parameters:
                return text
            if flags is not None and self.field in flags:
                flag = flags[self.field].on or flags[self.field].off  # None: a positional argument
                named = flag and re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", text)
                return f"{flag}: {text}" if flag and not named else text
        parts = [self.path or "<input>"]
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.field is not None:
            parts.append(f"field '{self.field}'")
        return f"{', '.join(parts)}: {text}"

    def located(self, *, path: str | None = None, line: int | None = None) -> InputError:
        """The same error with a path/line filled in where it was missing."""
        return InputError(
            self.template,
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
