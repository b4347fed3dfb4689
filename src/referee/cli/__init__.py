"""The ``referee`` command line: thin shells over library functions of the same name.

One module per command (group); :mod:`referee.cli.base` holds the Typer app and what the
commands share.  Importing this package registers every command, in the order ``--help``
lists them.
"""

from referee.cli import rank, audit, judge, jury, demo, rewards, plan, arena  # noqa: F401, I001  (registration order)
from referee.cli.base import FORMATS, app, main

__all__ = ["FORMATS", "app", "main"]
