"""Let a subpackage double as its command's function: ``referee.rank(...)``.

``referee.rank`` is both the package holding the rank engine and the library
function behind ``referee rank``.  Python replaces the attribute ``referee.rank``
with the subpackage as soon as any of its modules is imported, so the package
module itself is made callable (module ``__class__`` assignment, Python ≥ 3.5)
and forwards calls to the function.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any


def make_callable(module_name: str, target: str) -> None:
    """Make ``sys.modules[module_name]`` callable, forwarding to ``target`` ("pkg.mod:func")."""
    mod_path, func_name = target.split(":")

    class _CallableModule(types.ModuleType):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            return getattr(importlib.import_module(mod_path), func_name)(*args, **kwargs)

    sys.modules[module_name].__class__ = _CallableModule
