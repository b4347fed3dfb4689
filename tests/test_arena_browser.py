"""End-to-end tests of the arena's pages in a real browser (Playwright + Debian's Chromium).

Each test starts a real ``referee arena serve`` process on a loopback port and drives its
pages: voting by mouse and keyboard, the live leaderboard, the admin page, and XSS payloads
in prompts, responses, model names and annotator names (none may run; all must show as text).

Skipped when Python ``playwright`` or ``/usr/bin/chromium`` is missing (``make test`` installs
both; never ``playwright install``).
"""

from __future__ import annotations

import json
import random
import shutil
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from arena_server import ADMIN_TOKEN, ArenaServer, arena_server, write_outputs

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="Python playwright is not installed: run `make test` (or pip install playwright)"
)
CHROMIUM = "/usr/bin/chromium"
if not Path(CHROMIUM).exists() or not shutil.which("chromium"):
    pytest.skip(
        f"{CHROMIUM} is missing: run `make test` (or apt-get install chromium); never `playwright install`",
        allow_module_level=True,
    )

Browser = sync_api.Browser
BrowserContext = sync_api.BrowserContext
Page = sync_api.Page
expect = sync_api.expect

TIMEOUT_MS = 15_000
expect.set_options(timeout=TIMEOUT_MS)
ARGS = ["--refresh", "0.3", "--rate-limit", "0"]
MODELS = ["alpha-7b", "beta-13b", "gamma-70b", "delta-1b"]
VOTE_BUTTONS = ["#vote-a", "#vote-b", "#vote-tie", "#vote-bothbad"]
# Things that must never appear inside containers showing untrusted text.
DANGEROUS = (
    'script:not([src]), img, iframe, svg, object, embed, [onerror], [onload], [onmouseover], '
    'a[href^="javascript" i], [href^=" javascript" i], [src^="javascript" i]'
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"],
        )
        try:
            yield b
        finally:
            b.close()


class Watch:
    """A browser context whose dialogs (alert/confirm/prompt) and page errors are recorded."""

    def __init__(self, browser: Browser, width: int = 1280, height: int = 900) -> None:
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.context: BrowserContext = browser.new_context(viewport={"width": width, "height": height})
        self.context.set_default_timeout(TIMEOUT_MS)
        self.context.set_default_navigation_timeout(TIMEOUT_MS)
        self.context.on("dialog", self._dialog)
        self.context.on("page", self._page)

    def _dialog(self, d: Any) -> None:
        self.dialogs.append(f"{d.type}: {d.message}")
        d.dismiss()

    def _page(self, page: Page) -> None:
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    def new_page(self) -> Page:
        return self.context.new_page()

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def watch(browser: Browser) -> Iterator[Any]:
    made: list[Watch] = []

    def make(width: int = 1280, height: int = 900) -> Watch:
        w = Watch(browser, width, height)
        made.append(w)
        return w

    yield make
    for w in made:
        w.close()


def assert_csp(response: Any) -> None:
    assert response is not None and response.ok, response and response.status
    csp = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in csp and "object-src 'none'" in csp and "frame-ancestors 'none'" in csp, csp
    assert "unsafe-inline" not in csp


def wait_board(srv: ArenaServer, token: str, votes: int) -> dict[str, Any]:
    """The plain leaderboard once the server's board counts ``votes`` votes (bounded wait)."""
    deadline = time.monotonic() + 15
    while True:
        status, board = srv.request("GET", "/api/leaderboard", token=token)
        assert status == 200, board
        if board.get("meta", {}).get("n_comparisons") == votes:
            return board
        assert time.monotonic() < deadline, f"leaderboard never reached {votes} votes: {board}"
        time.sleep(0.1)


def board_rows(page: Page) -> list[dict[str, str]]:
    return page.eval_on_selector_all(
        "#board tbody tr",
        "rows => rows.map(tr => ({model: tr.dataset.model, cells: [...tr.cells].map(td => td.textContent)}))",
    )


def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    assert len(data) > 10_000, (path, len(data))


def revealed_names(page: Page) -> tuple[str, str]:
    a, b = page.text_content("#name-a") or "", page.text_content("#name-b") or ""
    return a.removeprefix("— ").strip(), b.removeprefix("— ").strip()


def expect_fresh_battle(page: Page) -> None:
    """A battle is shown and not yet voted on: names hidden, vote buttons live, Next hidden."""
    expect(page.locator("#response-a")).not_to_be_empty()
    expect(page.locator("#response-b")).not_to_be_empty()
    expect(page.locator("#prompt")).not_to_be_empty()
    expect(page.locator("#name-a")).to_have_text("")
    expect(page.locator("#name-b")).to_have_text("")
    expect(page.locator("#next")).to_be_hidden()
    for sel in VOTE_BUTTONS:
        expect(page.locator(sel)).to_be_enabled()


# -- voting, leaderboard, login ------------------------------------------------------------------
def test_vote_flow_keyboard_mouse_and_leaderboard(watch: Any, tmp_path: Path) -> None:
    outputs = write_outputs(tmp_path / "outputs.jsonl", MODELS, 6, seed=3)
    db = f"sqlite:///{tmp_path / 'arena.db'}"
    # --reveal: names after each vote (4 models x 6 prompts: up to 2 battles per prompt for alice)
    with arena_server(db, [outputs], args=[*ARGS, "--seed", "7", "--reveal"], log_dir=tmp_path) as srv:
        token = srv.invite("alice")
        w = watch()
        page = w.new_page()

        # Invite link: logs in and lands on the vote page.
        resp = page.goto(f"{srv.url}/login?token={token}")
        assert_csp(resp)
        assert page.url == srv.url + "/"
        expect(page.locator("body")).to_have_attribute("data-page", "vote")
        cookies = {c["name"]: c for c in w.context.cookies()}
        assert cookies["referee_session"]["httpOnly"] and cookies["referee_session"]["sameSite"] == "Strict"

        # The leaderboard before any vote: a note and no rows.
        assert_csp(page.goto(srv.url + "/leaderboard"))
        expect(page.locator("#board-meta")).to_contain_text("0 votes")
        expect(page.locator("#board-note")).to_be_visible()
        expect(page.locator("#board-note")).to_contain_text("not enough votes")
        assert board_rows(page) == []

        page.goto(srv.url + "/")
        expect_fresh_battle(page)
        # (how to vote, expected winner, how to go on)
        plan = [
            ("click:#vote-a", "model_a", "click"),
            ("key:b", "model_b", "n"),
            ("key:t", "tie", "Enter"),
            ("key:x", "tie (bothbad)", "Space"),
            ("key:ArrowLeft", "model_a", "n"),
        ]
        api_calls: list[str] = []
        page.on("request", lambda r: api_calls.append(r.method + " " + r.url.split("?")[0].removeprefix(srv.url)))
        battle_ids: list[str] = []
        pairs: list[tuple[str, str]] = []
        for i, (how, winner, advance) in enumerate(plan):
            expect_fresh_battle(page)
            assert revealed_names(page) == ("", "")
            with page.expect_response(lambda r: r.url.endswith("/api/vote")) as vote_info:
                kind, _, arg = how.partition(":")
                if kind == "click":
                    page.click(arg)
                else:
                    page.keyboard.press(arg)
            vote_resp = vote_info.value
            assert vote_resp.status == 200, vote_resp.text()
            body = json.loads(vote_resp.request.post_data or "{}")
            assert body["winner"] == winner, (how, body)
            assert body["battle_id"] not in battle_ids
            battle_ids.append(body["battle_id"])
            # Names are revealed only now, and they are the models the server says were shown.
            expect(page.locator("#name-a")).not_to_be_empty()
            expect(page.locator("#name-b")).not_to_be_empty()
            na, nb = revealed_names(page)
            data = vote_resp.json()
            assert (na, nb) == (data["model_a"], data["model_b"])
            assert na in MODELS and nb in MODELS and na != nb
            pairs.append((na, nb))
            expect(page.locator("#status")).to_contain_text("Vote recorded")
            chosen = {"model_a": "#vote-a", "model_b": "#vote-b", "tie": "#vote-tie", "tie (bothbad)": "#vote-bothbad"}
            expect(page.locator(chosen[winner])).to_have_class("vote chosen")
            for sel in VOTE_BUTTONS:
                expect(page.locator(sel)).to_be_disabled()
            expect(page.locator("#next")).to_be_visible()
            if i == 0:
                page.screenshot(path=str(tmp_path / "vote.png"), full_page=True)
            # Voting again on a voted battle does nothing (no second request is sent).
            if i % 2:
                page.keyboard.press("a")
                page.click("#vote-b", force=True)
            with page.expect_response(lambda r: "/api/battle" in r.url) as next_info:
                if advance == "click":
                    page.click("#next")
                else:
                    page.keyboard.press(advance)
            assert next_info.value.status == 200
            expect_fresh_battle(page)
        assert not w.dialogs and not w.errors, (w.dialogs, w.errors)

        # One vote and one battle request per step, nothing extra (Enter must not load twice).
        assert api_calls.count("POST /api/vote") == len(plan), api_calls
        assert api_calls.count("GET /api/battle") == len(plan), api_calls
        status, n = srv.request("GET", "/healthz")
        assert status == 200 and n["votes"] == len(plan)

        # The leaderboard after voting: rows whose vote counts sum to 2 x votes.
        wait_board(srv, token, len(plan))
        page.goto(srv.url + "/leaderboard")
        expect(page.locator("#board-meta")).to_contain_text(f"{len(plan)} votes")
        expect(page.locator("#board tbody tr").first).to_be_visible()
        rows = board_rows(page)
        shown = {m for pair in pairs for m in pair}
        assert {r["model"] for r in rows} == shown
        assert sum(int(r["cells"][6]) for r in rows) == 2 * len(plan)
        assert all(int(r["cells"][0]) >= 1 and r["cells"][3].strip() for r in rows), rows
        # the fit's own notes may show (e.g. the weak prior when a model never lost), never "not enough votes"
        expect(page.locator("#board-note")).not_to_contain_text("not enough votes")
        page.screenshot(path=str(tmp_path / "leaderboard.png"), full_page=True)

        # Style control: the table reloads from ?style=on.
        with page.expect_response(lambda r: "/api/leaderboard?style=on" in r.url) as style_info:
            page.check("#style-toggle")
        style_board = style_info.value.json()
        assert style_board["meta"]["style_control"] is True
        expect(page.locator("#board-meta")).to_contain_text("style control")
        rows_on = board_rows(page)
        assert {r["model"] for r in rows_on} == {r["model"] for r in style_board["models"]}
        if style_board["models"]:
            assert sum(int(r["cells"][6]) for r in rows_on) == 2 * len(plan)
        with page.expect_response(lambda r: "/api/leaderboard?style=off" in r.url):
            page.uncheck("#style-toggle")
        expect(page.locator("#board-meta")).not_to_contain_text("style control")
        assert {r["model"] for r in board_rows(page)} == shown
        assert not w.dialogs and not w.errors, (w.dialogs, w.errors)

        # Logging in by typing the token into the form, in a fresh context.
        w2 = watch()
        p2 = w2.new_page()
        p2.goto(srv.url + "/")  # not logged in: sent to the login page
        assert p2.url == srv.url + "/login"
        p2.fill("#token", "rfa_not-a-real-token")
        p2.click("#login-form button[type=submit]")
        expect(p2.locator("#status")).to_contain_text("invalid token")
        assert p2.url == srv.url + "/login"
        p2.fill("#token", token)
        with p2.expect_navigation(url=srv.url + "/"):
            p2.press("#token", "Enter")
        expect_fresh_battle(p2)
        # Typing into the token field never voted; keys reach the page only outside inputs.
        assert srv.request("GET", "/healthz")[1]["votes"] == len(plan)
        p2.keyboard.press("b")
        expect(p2.locator("#name-b")).not_to_be_empty()
        assert not w2.dialogs and not w2.errors, (w2.dialogs, w2.errors)

        # Log out: the session is gone and the vote page sends us to the login page.
        p2.click("#logout")
        p2.wait_for_url(srv.url + "/login")
        p2.goto(srv.url + "/")
        assert p2.url == srv.url + "/login"

    assert_png(tmp_path / "vote.png")
    assert_png(tmp_path / "leaderboard.png")


# -- model names: only with --reveal ----------------------------------------------------------------
def exported(srv: ArenaServer) -> dict[str, dict[str, Any]]:
    """The admin export (JSONL) by battle id: who was really shown as A and B."""
    req = urllib.request.Request(srv.url + "/api/export", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return {row["battle_id"]: row for row in map(json.loads, r.read().decode("utf-8").splitlines())}


@pytest.mark.parametrize("reveal", [False, True], ids=["default", "reveal"])
def test_model_names_after_a_vote_only_with_reveal(watch: Any, tmp_path: Path, reveal: bool) -> None:
    """By default a vote names nobody: both sides show "—", no model name is anywhere on the page and
    the vote's answer has none; with ``--reveal`` the page shows the two models the export says were
    shown as A and B."""
    outputs = write_outputs(tmp_path / "outputs.jsonl", MODELS, 2, seed=4)
    db = f"sqlite:///{tmp_path / 'arena.db'}"
    with arena_server(db, [outputs], args=[*ARGS, *(["--reveal"] if reveal else [])], log_dir=tmp_path) as srv:
        token = srv.invite("carol")
        w = watch()
        page = w.new_page()
        assert_csp(page.goto(f"{srv.url}/login?token={token}"))
        for key in ("a", "t"):
            expect_fresh_battle(page)
            with page.expect_response(lambda r: r.url.endswith("/api/vote")) as vote_info:
                page.keyboard.press(key)
            assert vote_info.value.status == 200, vote_info.value.text()
            answer = vote_info.value.json()
            row = exported(srv)[json.loads(vote_info.value.request.post_data or "{}")["battle_id"]]
            expect(page.locator("#status")).to_contain_text("Vote recorded")
            expect(page.locator("#next")).to_be_visible()
            if reveal:
                shown = (row["model_a"], row["model_b"])
                assert answer == {"ok": True, "revealed": True, "model_a": shown[0], "model_b": shown[1]}, answer
                expect(page.locator("#name-a")).to_have_text("— " + shown[0])
                expect(page.locator("#name-b")).to_have_text("— " + shown[1])
            else:
                assert answer == {"ok": True, "revealed": False}, answer
                expect(page.locator("#name-a")).to_have_text("—")
                expect(page.locator("#name-b")).to_have_text("—")
                text = page.inner_text("body")
                assert not [m for m in MODELS if m in text], text
            with page.expect_response(lambda r: "/api/battle" in r.url):
                page.keyboard.press("n")
        expect_fresh_battle(page)
        assert not w.dialogs and not w.errors, (w.dialogs, w.errors)


# -- long responses: the vote bar stays in view ----------------------------------------------------
def long_answer(words: int, seed: int) -> str:
    """About ``words`` words of Markdown: paragraphs of ~60 words, a list and a code block now and then."""
    rng = random.Random(seed)
    vocab = ["model", "answer", "because", "first", "then", "data", "result", "the", "of", "and", "which", "shows"]
    parts, n = [], 0
    while n < words:
        k = rng.randint(40, 80)
        parts.append(" ".join(rng.choice(vocab) for _ in range(k)) + ".")
        if len(parts) % 7 == 0:
            parts.append("- a point\n- another point\n\n```python\nprint('step')\n```")
        n += k
    return "\n\n".join(parts)


def assert_in_view(page: Page, selectors: list[str], width: int, height: int) -> None:
    """Each element's box lies inside the viewport and is what a click at its centre hits."""
    for sel in selectors:
        box = page.locator(sel).bounding_box()
        assert box is not None, sel
        assert box["x"] >= 0 and box["y"] >= 0, (sel, box)
        assert box["x"] + box["width"] <= width and box["y"] + box["height"] <= height, (sel, box, page.evaluate("scrollY"))
        cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        hit = page.evaluate("([x, y, sel]) => document.elementFromPoint(x, y).closest(sel) !== null", [cx, cy, sel])
        assert hit, (sel, "covered by another element")


def test_vote_buttons_in_view_with_long_responses(watch: Any, tmp_path: Path) -> None:
    width, height = 1280, 720
    models = ["verbose-a", "verbose-b"]
    outputs = write_outputs(tmp_path / "long.jsonl", models, 2, texts={m: long_answer(3000, i) for i, m in enumerate(models)})
    db = f"sqlite:///{tmp_path / 'arena.db'}"
    with arena_server(db, [outputs], args=ARGS, log_dir=tmp_path) as srv:
        token = srv.invite("reader")
        w = watch(width, height)
        page = w.new_page()
        assert_csp(page.goto(f"{srv.url}/login?token={token}"))
        expect_fresh_battle(page)
        words = len((page.text_content("#response-a") or "").split())
        assert words >= 3000, words
        scroll_height = page.evaluate("document.documentElement.scrollHeight")
        assert scroll_height > 5 * height, scroll_height  # the page really is long
        assert page.evaluate("scrollY") == 0

        # In view at the top, halfway down and at the bottom of the page.
        assert_in_view(page, VOTE_BUTTONS, width, height)
        for y in (scroll_height // 2, scroll_height):
            page.evaluate("y => window.scrollTo(0, y)", y)
            page.wait_for_function("y => Math.abs(scrollY - Math.min(y, document.documentElement.scrollHeight - innerHeight)) < 2", arg=y)
            assert_in_view(page, VOTE_BUTTONS, width, height)
        page.evaluate("window.scrollTo(0, 0)")
        page.wait_for_function("scrollY === 0")

        # A real mouse click at the button's place (no scrolling into view) records the vote.
        box = page.locator("#vote-b").bounding_box()
        assert box is not None
        with page.expect_response(lambda r: r.url.endswith("/api/vote")) as vote_info:
            page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        assert vote_info.value.status == 200, vote_info.value.text()
        assert json.loads(vote_info.value.request.post_data or "{}")["winner"] == "model_b"
        assert page.evaluate("scrollY") == 0
        expect(page.locator("#status")).to_contain_text("Vote recorded")
        expect(page.locator("#name-b")).not_to_be_empty()
        assert_in_view(page, ["#next", "#status"], width, height)
        status, rows = srv.request("GET", "/api/export", token=ADMIN_TOKEN)
        assert status == 200 and isinstance(rows, dict) and rows["winner"] == "model_b", rows  # one JSONL line

        # The keyboard still works from anywhere on the page; the next battle starts at its prompt.
        page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
        with page.expect_response(lambda r: "/api/battle" in r.url):
            page.keyboard.press("n")
        expect_fresh_battle(page)
        page.wait_for_function("scrollY === 0")
        assert_in_view(page, VOTE_BUTTONS, width, height)
        with page.expect_response(lambda r: r.url.endswith("/api/vote")) as vote_info:
            page.keyboard.press("t")
        assert json.loads(vote_info.value.request.post_data or "{}")["winner"] == "tie"
        assert srv.request("GET", "/healthz")[1]["votes"] == 2
        page.screenshot(path=str(tmp_path / "long-vote.png"))
        assert not w.dialogs and not w.errors, (w.dialogs, w.errors)
    assert_png(tmp_path / "long-vote.png")


# -- admin ---------------------------------------------------------------------------------------------
def test_admin_invite_and_hide(watch: Any, tmp_path: Path) -> None:
    outputs = write_outputs(tmp_path / "outputs.jsonl", MODELS, 6, seed=5)
    db = f"sqlite:///{tmp_path / 'arena.db'}"
    # --reveal, to read the models off the page: 3 visible models x 6 prompts are exactly 6 battles for bob
    with arena_server(db, [outputs], args=[*ARGS, "--reveal"], log_dir=tmp_path) as srv:
        w = watch()
        page = w.new_page()
        assert_csp(page.goto(srv.url + "/admin"))
        # Not logged in: the admin login form; a wrong token is refused.
        expect(page.locator("#login-form")).to_be_visible()
        expect(page.locator("#models")).to_have_count(0)
        page.fill("#token", "wrong-token-wrong-token")
        page.click("#login-form button[type=submit]")
        expect(page.locator("#status")).to_contain_text("invalid token")
        page.fill("#token", ADMIN_TOKEN)
        with page.expect_navigation(url=srv.url + "/admin"):
            page.click("#login-form button[type=submit]")
        expect(page.locator("#invite-form")).to_be_visible()
        expect(page.locator("#models tbody tr")).to_have_count(len(MODELS))
        assert page.get_attribute("#export", "href") == "/api/export"

        # Invite through the form: the link appears and logs a fresh browser in.
        page.fill("#invite-name", "bob")
        page.click("#invite-form button[type=submit]")
        expect(page.locator("#invite-result code")).to_contain_text("/login?token=")
        link = page.text_content("#invite-result code") or ""
        assert link.startswith(srv.url + "/login?token=rfa_"), link
        expect(page.locator("#invite-result")).to_contain_text("bob")
        expect(page.locator("#invite-name")).to_have_value("")
        expect(page.locator("#annotators tbody tr", has_text="bob")).to_have_count(1)
        # A duplicate name is refused with a message.
        page.fill("#invite-name", "bob")
        page.click("#invite-form button[type=submit]")
        expect(page.locator("#invite-result")).to_contain_text("exists")
        expect(page.locator("#invite-result code")).to_have_count(0)

        w2 = watch()
        p2 = w2.new_page()
        p2.goto(link)
        assert p2.url == srv.url + "/"
        expect_fresh_battle(p2)

        # Hide a model: its status flips to hidden and it is never shown to annotators again.
        victim = "gamma-70b"
        row = page.locator(f'#models tbody tr[data-model="{victim}"]')
        expect(row.locator("td").nth(3)).to_have_text("live")
        row.get_by_role("button", name="Hide").click()
        expect(row.locator("td").nth(3)).to_have_text("hidden")
        expect(row.get_by_role("button")).to_have_text("Unhide")
        status, models = srv.request("GET", "/api/admin/models", token=ADMIN_TOKEN)
        assert status == 200 and {m["model"]: m["hidden"] for m in models["models"]}[victim] is True
        for _ in range(6):
            p2.reload()
            expect_fresh_battle(p2)
            p2.keyboard.press("t")
            expect(p2.locator("#name-a")).not_to_be_empty()
            assert victim not in revealed_names(p2)
        # And unhide it again.
        row.get_by_role("button", name="Unhide").click()
        expect(row.locator("td").nth(3)).to_have_text("live")
        expect(page.locator("#annotators tbody tr", has_text="bob").locator("td").nth(2)).to_have_text("6")
        assert not w.dialogs and not w.errors and not w2.dialogs and not w2.errors


# -- XSS ------------------------------------------------------------------------------------------------
XSS_RESPONSE = "\n\n".join([
    "Intro <script>window.__xss=1;alert(1)</script> end.",
    '<img src=x onerror="window.__xss=2;alert(2)">',
    "[click](javascript:window.__xss=3;alert(3)) and [caps](JaVaScRiPt:alert(33))",
    '<a href="javascript:window.__xss=4;alert(4)">x</a>',
    "- item <b onmouseover=\"window.__xss=6;alert(6)\">hover</b>\n- second",
    "<svg onload=\"window.__xss=7;alert(7)\"></svg>",
    "<iframe src=javascript:window.__xss=8;alert(8)></iframe>",
    "![pic](javascript:alert(9)) ![pic2](http://127.0.0.1:9/x.png)",
    "[safe](http://127.0.0.1:9/ok) and [frag](#top)",
])
XSS_MODELS = ["<img src=x onerror=window.__xss=5;alert(5)>", '"><svg onload=window.__xss=10;alert(10)>', "plain-model"]
XSS_PROMPT = "Prompt <script>window.__xss=11;alert(11)</script> **bold**"
XSS_ANNOTATOR = "<img src=x onerror=window.__xss=12;alert(12)>"


def write_xss_outputs(path: Path) -> Path:
    with path.open("w", encoding="utf-8") as f:
        for m in XSS_MODELS:
            for i in range(3):
                f.write(json.dumps({"model": m, "prompt_id": f"x{i}", "prompt": f"{XSS_PROMPT} #{i}",
                                    "response": f"{XSS_RESPONSE}\n\nanswer {i} by {m}"}) + "\n")
    return path


def assert_clean(w: Watch, page: Page, containers: list[str]) -> None:
    """Nothing ran and nothing executable was inserted into ``containers``."""
    assert w.dialogs == [], w.dialogs
    assert w.errors == [], w.errors
    for p in w.context.pages:
        assert p.evaluate("typeof window.__xss") == "undefined", p.url
    assert page.locator("script:not([src])").count() == 0
    for c in containers:
        expect(page.locator(c)).to_have_count(1)
        found = page.eval_on_selector(c, "(el, sel) => [...el.querySelectorAll(sel)].map(e => e.outerHTML)", DANGEROUS)
        assert found == [], (c, found)


def test_xss_payloads_render_as_text(watch: Any, tmp_path: Path) -> None:
    outputs = write_xss_outputs(tmp_path / "xss.jsonl")
    db = f"sqlite:///{tmp_path / 'arena.db'}"
    # --reveal shows the HTML model names on the page; it leaves mallory one battle per prompt (3), and
    # balanced sampling makes those 3 cover the 3 pairs, so every model reaches the leaderboard
    with arena_server(db, [outputs], args=[*ARGS, "--reveal", "--sampling", "balanced"], log_dir=tmp_path) as srv:
        token = srv.invite("mallory")
        w = watch()
        page = w.new_page()
        assert_csp(page.goto(f"{srv.url}/login?token={token}"))
        for _ in range(3):
            expect_fresh_battle(page)
            assert_clean(w, page, ["#prompt", "#response-a", "#response-b"])
            # The payloads are visible, as text.
            for sel in ("#response-a", "#response-b"):
                text = page.text_content(sel) or ""
                for needle in ("<script>window.__xss=1", '<img src=x onerror="window.__xss=2', "javascript:window.__xss=3",
                               '<a href="javascript:window.__xss=4', "<b onmouseover=", "<svg onload=", "<iframe src=",
                               "![pic](javascript:alert(9))", "[image: pic2](http://127.0.0.1:9/x.png)"):
                    assert needle in text, (sel, needle, text)
                expect(page.locator(f"{sel} li")).to_have_count(2)
                expect(page.locator(f"{sel} li").first).to_contain_text("<b onmouseover=")
            assert "<script>window.__xss=11" in (page.text_content("#prompt") or "")
            expect(page.locator("#prompt strong")).to_have_text("bold")
            # Only the safe links are links; clicking each (and hovering everything) runs nothing.
            links = page.locator("#response-a a, #response-b a")
            hrefs = [links.nth(i).get_attribute("href") for i in range(links.count())]
            assert sorted(set(hrefs)) == ["#top", "http://127.0.0.1:9/ok"], hrefs
            for i in range(links.count()):
                link = links.nth(i)
                assert link.get_attribute("rel") == "nofollow noopener noreferrer"
                link.click()
                page.wait_for_timeout(50)
            for el in page.locator("#response-a li, #response-b li").all():
                el.hover()
            for extra in w.context.pages:
                if extra is not page:
                    extra.close()
            assert_clean(w, page, ["#prompt", "#response-a", "#response-b"])
            # Vote: the HTML model names are revealed as text.
            page.keyboard.press("a")
            expect(page.locator("#name-a")).not_to_be_empty()
            na, nb = revealed_names(page)
            assert {na, nb} <= set(XSS_MODELS)
            page.screenshot(path=str(tmp_path / "xss-vote.png"), full_page=True)
            assert_clean(w, page, ["#side-a", "#side-b"])
            page.keyboard.press("n")

        # More votes through the API so that every model is on the board.
        for _ in range(12):
            status, b = srv.request("GET", "/api/battle", token=token)
            if status == 404:
                break
            assert status == 200, b
            assert srv.request("POST", "/api/vote", {"battle_id": b["battle_id"], "winner": "model_b"}, token=token)[0] == 200
        board = wait_board(srv, token, srv.request("GET", "/healthz")[1]["votes"])
        assert board["models"], board
        assert_csp(page.goto(srv.url + "/leaderboard"))
        expect(page.locator("#board tbody tr").first).to_be_visible()
        models_shown = [r["model"] for r in board_rows(page)]
        assert set(models_shown) == {r["model"] for r in board["models"]}
        assert {r["cells"][2] for r in board_rows(page)} == set(models_shown)
        assert XSS_MODELS[0] in models_shown
        page.check("#style-toggle")
        expect(page.locator("#board-meta")).to_contain_text("style control")
        page.uncheck("#style-toggle")
        expect(page.locator("#board-meta")).not_to_contain_text("style control")
        assert_clean(w, page, ["#board"])

        # Admin: model and annotator names with HTML are shown as text.
        wa = watch()
        admin = wa.new_page()
        assert_csp(admin.goto(f"{srv.url}/login?token={ADMIN_TOKEN}"))
        assert admin.url == srv.url + "/admin"
        expect(admin.locator("#models tbody tr")).to_have_count(len(XSS_MODELS))
        assert {c for c in admin.locator("#models tbody td.model").all_text_contents()} == set(XSS_MODELS)
        admin.fill("#invite-name", XSS_ANNOTATOR)
        admin.click("#invite-form button[type=submit]")
        expect(admin.locator("#invite-result code")).to_contain_text("/login?token=")
        expect(admin.locator("#invite-result")).to_contain_text(XSS_ANNOTATOR)
        expect(admin.locator("#annotators tbody tr", has_text=XSS_ANNOTATOR)).to_have_count(1)
        assert_clean(wa, admin, ["#models", "#annotators", "#invite-result"])
        # Hiding the HTML-named model works (its name round-trips through the API).
        row = admin.locator("#models tbody tr").filter(has_text=XSS_MODELS[0])
        row.get_by_role("button", name="Hide").click()
        expect(row.locator("td").nth(3)).to_have_text("hidden")
        assert_clean(wa, admin, ["#models", "#annotators", "#invite-result"])
        admin.screenshot(path=str(tmp_path / "xss-admin.png"), full_page=True)
    assert_png(tmp_path / "xss-vote.png")
