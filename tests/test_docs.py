"""``docs/cli.md`` is generated from the Typer app (``make docs``) and must be up to date."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def gen() -> ModuleType:
    """``scripts/gen_cli_docs.py`` as a module."""
    path = REPO / "scripts" / "gen_cli_docs.py"
    spec = importlib.util.spec_from_file_location("gen_cli_docs", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("gen_cli_docs", module)
    spec.loader.exec_module(module)
    return module


def test_cli_docs_are_up_to_date(gen: ModuleType) -> None:
    committed = (REPO / "docs" / "cli.md").read_text(encoding="utf-8") if (REPO / "docs" / "cli.md").exists() else ""
    fresh = gen.render()
    assert committed == fresh, "docs/cli.md is out of date with the CLI: run `make docs` and commit the result"


def test_every_command_has_an_example(gen: ModuleType) -> None:
    missing = gen.missing_examples()
    assert not missing, f"no example for {missing}: add one to EXAMPLES in scripts/gen_cli_docs.py"
    stale = set(gen.EXAMPLES) - {" ".join(p) for p, _ in gen.walk(gen.root_command()) if p}
    assert not stale, f"EXAMPLES names commands that do not exist: {sorted(stale)}"
    for key, example in gen.EXAMPLES.items():
        assert example.startswith(f"referee {key} "), f"the example for {key!r} runs another command: {example}"


def test_every_command_and_option_is_documented(gen: ModuleType) -> None:
    text = gen.render()
    for path, command in gen.walk(gen.root_command()):
        if path:
            assert f"## `referee {' '.join(path)}`" in text
        for param in command.params:
            if getattr(param, "hidden", False) or gen._is_argument(param):
                continue
            for name in [*param.opts, *getattr(param, "secondary_opts", [])]:
                assert f"`{name}`" in text, f"{name} of referee {' '.join(path)} is missing"


def test_rendering_shows_help_and_defaults(gen: ModuleType) -> None:
    text = gen.render()
    rank = text.split("## `referee rank`")[1].split("\n## ")[0]
    assert re.search(r"\| `--rounds` `\S+` \| Bootstrap rounds[^|]*\| `1000` \|", rank)
    assert re.search(r"\| `--quiet` / `-q` \| [^|]+ \| off \|", rank)
    assert "```bash\nreferee rank " in rank


def test_the_check_mode_fails_on_stale_docs(gen: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    stale = tmp_path / "docs" / "cli.md"
    stale.parent.mkdir()
    stale.write_text("# old\n", encoding="utf-8")
    monkeypatch.setattr(gen, "REPO", tmp_path)
    monkeypatch.setattr(gen, "OUT", stale)
    assert gen.main(["--check"]) == 1
    assert "run `make docs`" in capsys.readouterr().err
    assert gen.main([]) == 0
    assert gen.main(["--check"]) == 0
