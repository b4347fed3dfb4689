"""The audit report: JSON contract, Markdown/HTML files, the `referee audit` command, and the HTML
page rendered by a real headless Chromium."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

import referee
from _proc import assert_clear_error
from referee.auditing.report import CONTRACT
from referee.auditing.sim import JudgeSpec, simulate_judges
from referee.errors import InputError

EXE = str(Path(sys.executable).with_name("referee"))
METRIC_KEYS = {"value", "ci_low", "ci_high", "n"}


@pytest.fixture(scope="module")
def tables():
    verdicts, gold = simulate_judges(
        {"fair-judge": JudgeSpec(), "first-lover": JudgeSpec(position=2.0)}, n_prompts=40, seed=5
    )
    return verdicts, gold


@pytest.fixture(scope="module")
def report(tables):
    verdicts, gold = tables
    return referee.audit(verdicts, gold, rounds=200, seed=3)


def test_json_contract(report):
    data = json.loads(report.to_json())
    assert set(data) >= {"judges", "meta"}
    for name, judge in data["judges"].items():
        assert list(judge)[: len(CONTRACT)] == list(CONTRACT), name
        assert isinstance(judge["n"], int) and isinstance(judge["aligned"], int)
        for key in CONTRACT[2:-1]:
            assert judge[key] is None or set(judge[key]) == METRIC_KEYS, key
        assert judge["score_comparison_inconsistency"] is None  # no scores given
        for flag in judge["flags"]:
            assert {"metric", "value", "ci_low", "ci_high", "band", "message"} <= set(flag)
    meta = data["meta"]
    for key in ("seed", "rounds", "level", "tie_policy", "bands", "inputs", "alignment", "referee_version"):
        assert key in meta, key
    assert meta["seed"] == 3 and meta["rounds"] == 200
    assert meta["alignment"]["aligned"] == meta["alignment"]["verdicts"]
    assert any(f["metric"] == "first_position_rate" for f in data["judges"]["first-lover"]["flags"])


def test_save_by_extension(report, tmp_path):
    for ext in ("json", "md", "html"):
        p = report.save(tmp_path / "sub" / f"audit.{ext}")
        assert p.stat().st_size > 500
    md = (tmp_path / "sub" / "audit.md").read_text()
    assert md.startswith("# referee audit") and "first-lover" in md and "## Flags" in md
    html = (tmp_path / "sub" / "audit.html").read_text()
    assert "<svg" in html and "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    assert "<script" not in html and "<link" not in html  # self-contained
    with pytest.raises(InputError, match="unknown output extension"):
        report.save(tmp_path / "audit.pdf")


def test_repr_and_terminal_summary(report, capsys):
    assert "fair-judge" in repr(report)
    report.print()
    out = capsys.readouterr().out
    assert "flag" in out and "first-lover" in out


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([EXE, *args], capture_output=True, text=True, timeout=120)


def test_cli_writes_reports(tables, tmp_path):
    verdicts, gold = tables
    vp, gp = tmp_path / "verdicts.jsonl", tmp_path / "gold.jsonl"
    verdicts.to_json(vp, orient="records", lines=True)
    gold.to_json(gp, orient="records", lines=True)
    out_json, out_html = tmp_path / "a.json", tmp_path / "a.html"
    proc = run("audit", str(vp), "--gold", str(gp), "--rounds", "100", "--seed", "2", "--tie-policy", "half",
               "--family", "fair-judge=claude", "--band", "first_position_rate=0.4:0.6", "-o", str(out_json),
               "-o", str(out_html))
    assert proc.returncode == 0, proc.stderr
    assert "first-lover" in proc.stdout
    data = json.loads(out_json.read_text())
    assert data["meta"]["tie_policy"] == "half" and data["meta"]["bands"]["first_position_rate"] == [0.4, 0.6]
    assert data["meta"]["family"] == {"fair-judge": "claude"}
    assert out_html.stat().st_size > 1000


def test_cli_errors_are_one_line(tables, tmp_path):
    verdicts, gold = tables
    vp, gp = tmp_path / "v.jsonl", tmp_path / "g.jsonl"
    verdicts.to_json(vp, orient="records", lines=True)
    gold.assign(prompt="another prompt").to_json(gp, orient="records", lines=True)
    assert_clear_error(run("audit", str(vp), "--gold", str(gp), "-q"), "none of the", "g.jsonl")
    assert_clear_error(run("audit", str(tmp_path / "missing.jsonl"), "-q"), "missing.jsonl")
    # option errors, in process (same code path, no interpreter start-up)
    from typer.testing import CliRunner

    from referee.cli import app

    for args, needle in (
        (["--band", "first_position_rate"], "--band"),
        (["--band", "accuracy=0:1"], "no band for 'accuracy'"),
        (["--family", "oops"], "--family"),
        (["--kind", "oracle"], "kind"),
        (["--tie-policy", "majority"], "tie policy"),
    ):
        res = CliRunner().invoke(app, ["audit", str(vp), "-q", *args])
        assert res.exit_code == 2, (args, res.output)
        lines = [line for line in res.stderr.strip().splitlines() if line]
        assert len(lines) == 1 and needle in lines[0], (args, res.stderr)


# ------------------------------------------------------------------------------------ Chromium
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROME_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def png_pixel_bytes(path: Path) -> bytes:
    """The decompressed (filtered) pixel stream of a PNG: enough to tell a blank page from a real one."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        if kind == b"IDAT":
            idat += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    return zlib.decompress(idat)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian package `chromium`)")
def test_html_report_renders_in_headless_chromium(report, tmp_path):
    html = report.save(tmp_path / "audit.html")
    png = tmp_path / "shot.png"
    profile = tmp_path / "profile"
    cmd = [CHROMIUM, *CHROME_FLAGS, f"--user-data-dir={profile}", "--window-size=1200,2000",
           f"--screenshot={png}", html.as_uri()]
    subprocess.run(cmd, capture_output=True, timeout=120, check=False)
    assert png.exists() and png.stat().st_size > 20_000
    pixels = png_pixel_bytes(png)
    assert len(set(pixels)) > 50  # not a single-colour image
    dom = subprocess.run([CHROMIUM, *CHROME_FLAGS, f"--user-data-dir={profile}", "--dump-dom", html.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    judge = report.judges["first-lover"]
    flag = next(f for f in judge["flags"] if f["metric"] == "first_position_rate")
    assert f"{judge['accuracy']['value']:.3f}" in dom
    assert f"{judge['first_position_rate']['value']:.3f}" in dom
    assert flag["message"].split(":")[0] in dom.replace("&nbsp;", " ")
    for heading in ("Flags", "Position bias", "Length bias", "Calibration", "Accuracy by category",
                    "Agreement across judges and humans"):
        assert heading in dom, heading
