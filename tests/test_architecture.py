"""The import graph of ``src/referee``, built from the AST: no cycles, no borrowed private names.

What counts as an import: every ``import`` and ``from … import`` anywhere in a module — at
module level, inside functions (deferred imports), under ``if TYPE_CHECKING:`` — since a cycle
hidden behind a deferred import is still a cycle in the design.  Relative imports are resolved;
``from pkg import name`` is an edge to the module ``pkg.name`` when that is a module, else to
``pkg``.  Strings handed to ``importlib`` (the lazy facade in ``referee/__init__.py``) are not
imports: the root package statically imports nothing from referee (checked below), so it is a
leaf that modules may read ``__version__`` from.

Granularity, both checked:

* **components** — each subpackage (``referee.ranking``, ``referee.report``, …) and each top-level
  module (``referee.errors``, ``referee.text``, …) is one node; the dependencies between them
  must form a DAG (the picture in ``docs/architecture.md``);
* **modules** — every module is a node, so cycles inside one package
  (``ranking/lc.py`` ↔ ``ranking/winrate.py``) are caught too.

On top of acyclicity, components import only components of lower layers (:data:`LAYERS`, the
picture in ``docs/architecture.md``), and every component must be placed in a layer.

Privacy: a ``_``-prefixed module, or a ``_``-prefixed name imported from a module, belongs to
the package that contains it and may be imported only from inside that package
(``referee.io._arrow`` from ``referee.io.*`` only; a top-level ``referee._x`` from anywhere in
referee).  Dunder names (``__version__``) are public.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
ROOT = "referee"


@dataclass(frozen=True)
class Import:
    """One resolved import: ``source`` imports module ``target`` (``name`` when a name was taken from it)."""

    source: str
    target: str
    name: str | None
    line: int

    def where(self, files: dict[str, Path], src: Path) -> str:
        """``referee/ranking/lc.py:92 → referee.ranking.winrate`` for messages."""
        what = f"{self.target}.{self.name}" if self.name else self.target
        return f"{files[self.source].relative_to(src)}:{self.line} → {what}"


def module_files(src: Path, root: str = ROOT) -> dict[str, Path]:
    """Dotted module name → file, for every ``.py`` file of the package ``root`` under ``src``."""
    out: dict[str, Path] = {}
    for path in sorted((src / root).rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _containing_module(name: str, modules: Iterable[str]) -> str | None:
    """The longest prefix of ``name`` that is a known module (``a.b.C`` → ``a.b``)."""
    known = set(modules)
    parts = name.split(".")
    for n in range(len(parts), 0, -1):
        candidate = ".".join(parts[:n])
        if candidate in known:
            return candidate
    return None


def imports_of(module: str, path: Path, modules: dict[str, Path], root: str = ROOT) -> list[Import]:
    """Every import of another module of ``root`` made anywhere in ``path``, resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: list[Import] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _containing_module(alias.name, modules)
                if target is not None and alias.name.split(".")[0] == root:
                    out.append(Import(module, target, None, node.lineno))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base_name = ".".join(base + ([node.module] if node.module else []))
            else:
                base_name = node.module or ""
            if base_name.split(".")[0] != root:
                continue
            for alias in node.names:
                sub = f"{base_name}.{alias.name}"
                if sub in modules:
                    out.append(Import(module, sub, None, node.lineno))
                else:
                    target = _containing_module(base_name, modules)
                    if target is not None:
                        out.append(Import(module, target, alias.name, node.lineno))
    return out


def import_graph(src: Path = SRC, root: str = ROOT) -> tuple[dict[str, Path], list[Import]]:
    """(module files, every import between modules of ``root``)."""
    files = module_files(src, root)
    edges = [imp for mod, path in files.items() for imp in imports_of(mod, path, files, root)]
    return files, edges


def component(module: str, root: str = ROOT) -> str:
    """The subpackage or top-level module a module belongs to (``referee.ranking.lc`` → ``referee.ranking``)."""
    return ".".join(module.split(".")[:2]) if module != root else root


def cycles(nodes: Iterable[str], edges: Iterable[tuple[str, str]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan), each sorted."""
    graph: dict[str, set[str]] = {n: set() for n in nodes}
    for a, b in edges:
        if a != b:
            graph.setdefault(a, set()).add(b)
            graph.setdefault(b, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            scc = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                scc.append(w)
                if w == v:
                    break
            if len(scc) > 1:
                found.append(sorted(scc))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def cycle_report(found: list[list[str]], edges: list[Import], files: dict[str, Path], src: Path, key=lambda m: m) -> str:
    """Each cycle with the imports that close it (file:line → target)."""
    lines = []
    for scc in found:
        members = set(scc)
        lines.append("cycle: " + " ↔ ".join(scc))
        for imp in edges:
            a, b = key(imp.source), key(imp.target)
            if a != b and a in members and b in members:
                lines.append("    " + imp.where(files, src))
    return "\n".join(lines)


def private_violations(edges: list[Import], files: dict[str, Path], src: Path) -> list[str]:
    """Imports of another package's ``_``-prefixed module or name."""
    bad = []
    for imp in edges:
        leaf = imp.target.rpartition(".")[2]
        if leaf.startswith("_") and not leaf.startswith("__"):
            owner = imp.target.rpartition(".")[0]  # a private module belongs to its package
        elif imp.name and imp.name.startswith("_") and not imp.name.startswith("__"):
            is_package = files[imp.target].name == "__init__.py"
            owner = imp.target if is_package else imp.target.rpartition(".")[0]
        else:
            continue
        if imp.source != owner and not imp.source.startswith(owner + "."):
            bad.append(imp.where(files, src))
    return bad


#: the layers of docs/architecture.md, top first: a component imports only components of lower layers
LAYERS: tuple[tuple[str, ...], ...] = (
    ("cli",),
    ("demo", "probing"),
    ("arena", "judging"),
    ("planning",),
    ("ranking", "auditing", "scoring"),
    ("io", "sim", "llama", "report", "scale"),
    ("schema", "text"),
    ("errors", "resample", "templating", ""),  # "": the root package (the lazy facade)
)


def layer_violations(edges: list[Import], files: dict[str, Path], src: Path) -> list[str]:
    """Imports that go sideways or up in :data:`LAYERS`, and components missing from it."""
    level = {f"{ROOT}.{name}" if name else ROOT: i for i, names in enumerate(LAYERS) for name in names}
    bad = sorted({f"{component(m)} is in no layer" for m in files if component(m) not in level})
    for imp in edges:
        a, b = component(imp.source), component(imp.target)
        if a != b and a in level and b in level and level[b] <= level[a]:
            bad.append(f"{a} (layer {level[a]}) → {b} (layer {level[b]}): " + imp.where(files, src))
    return bad


# -- the checks on src/referee --------------------------------------------------------------------
@pytest.fixture(scope="module")
def graph() -> tuple[dict[str, Path], list[Import]]:
    return import_graph()


def test_the_graph_sees_deferred_and_type_checking_imports(graph: tuple[dict[str, Path], list[Import]]) -> None:
    files, edges = graph
    assert len(files) > 100
    pairs = {(e.source, e.target) for e in edges}
    # deferred (inside a method) and module-level imports are both edges
    assert ("referee.ranking.leaderboard", "referee.report.html") in pairs
    assert ("referee.ranking.leaderboard", "referee.report.output") in pairs
    # `from referee.io import _arrow as fa` is an edge to the module referee.io._arrow
    assert ("referee.io.generic", "referee.io._arrow") in pairs


def test_no_cycle_between_components(graph: tuple[dict[str, Path], list[Import]]) -> None:
    files, edges = graph
    found = cycles({component(m) for m in files}, [(component(e.source), component(e.target)) for e in edges])
    assert not found, "import cycles between packages:\n" + cycle_report(found, edges, files, SRC, key=component)


def test_no_cycle_between_modules(graph: tuple[dict[str, Path], list[Import]]) -> None:
    files, edges = graph
    found = cycles(files, [(e.source, e.target) for e in edges])
    assert not found, "import cycles between modules:\n" + cycle_report(found, edges, files, SRC)


def test_no_private_module_or_name_borrowed_from_another_package(graph: tuple[dict[str, Path], list[Import]]) -> None:
    files, edges = graph
    bad = private_violations(edges, files, SRC)
    assert not bad, "private modules / names imported from outside their package:\n" + "\n".join(bad)


def test_components_import_only_lower_layers(graph: tuple[dict[str, Path], list[Import]]) -> None:
    files, edges = graph
    bad = layer_violations(edges, files, SRC)
    assert not bad, ("imports against the layers of docs/architecture.md (update LAYERS here and the picture "
                     "there together when the design changes):\n" + "\n".join(bad))


def test_the_root_package_is_a_leaf(graph: tuple[dict[str, Path], list[Import]]) -> None:
    """``referee/__init__.py`` loads subpackages lazily (importlib), so modules may import ``__version__``."""
    _, edges = graph
    assert [e for e in edges if e.source == ROOT] == []


# -- the checker itself catches what it should ----------------------------------------------------
def _write(src: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = src / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_checker_finds_a_cycle_behind_a_deferred_relative_import(tmp_path: Path) -> None:
    _write(tmp_path, {
        "referee/__init__.py": "",
        "referee/a/__init__.py": "",
        "referee/a/x.py": "from referee.b import y\n",
        "referee/b/__init__.py": "",
        "referee/b/y.py": "def f():\n    from ..a.x import g\n    return g\n",
        "referee/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from referee.a import x\n",
    })  # fmt: skip
    files, edges = import_graph(tmp_path)
    assert {(e.source, e.target, e.name) for e in edges} == {
        ("referee.a.x", "referee.b.y", None),
        ("referee.b.y", "referee.a.x", "g"),
        ("referee.c", "referee.a.x", None),
    }
    comp = cycles({component(m) for m in files}, [(component(e.source), component(e.target)) for e in edges])
    assert comp == [["referee.a", "referee.b"]]
    assert cycles(files, [(e.source, e.target) for e in edges]) == [["referee.a.x", "referee.b.y"]]
    report = cycle_report(comp, edges, files, tmp_path, key=component)
    assert "referee/b/y.py:2 → referee.a.x.g" in report


def test_checker_flags_private_imports_only_across_packages(tmp_path: Path) -> None:
    _write(tmp_path, {
        "referee/__init__.py": "__version__ = '0'\n",
        "referee/_shared.py": "",
        "referee/io/__init__.py": "from referee.io import _src\n",
        "referee/io/_src.py": "",
        "referee/io/fmt.py": "from referee.io._src import thing\nfrom referee import __version__\n",
        "referee/judging/local.py": "def _load():\n    pass\n",
        "referee/judging/run.py": "from referee.judging.local import _load\nfrom referee import _shared\n",
        "referee/scoring/dpo.py": "def f():\n    from referee.judging.local import _load\n    from referee.io._src import x\n",
    })  # fmt: skip
    files, edges = import_graph(tmp_path)
    assert private_violations(edges, files, tmp_path) == [
        "referee/scoring/dpo.py:2 → referee.judging.local._load",
        "referee/scoring/dpo.py:3 → referee.io._src.x",
    ]


def test_checker_flags_upward_imports_and_unplaced_components(tmp_path: Path) -> None:
    _write(tmp_path, {
        "referee/__init__.py": "",
        "referee/cli.py": "from referee import errors\n",
        "referee/errors.py": "def f():\n    from referee.cli import main\n",
        "referee/newthing.py": "",
    })  # fmt: skip
    files, edges = import_graph(tmp_path)
    assert layer_violations(edges, files, tmp_path) == [
        "referee.newthing is in no layer",
        f"referee.errors (layer {len(LAYERS) - 1}) → referee.cli (layer 0): referee/errors.py:2 → referee.cli.main",
    ]
