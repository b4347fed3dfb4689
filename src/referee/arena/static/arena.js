// referee arena: the pages' behaviour. Model text arrives as server-sanitised HTML
// (*_html fields); everything else is set with textContent, never innerHTML.
"use strict";

const csrf = () => document.querySelector('meta[name="csrf-token"]').content;
const $ = (id) => document.getElementById(id);

async function api(method, path, body) {
  const opts = { method, credentials: "same-origin", headers: {} };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  if (method !== "GET") opts.headers["X-CSRF-Token"] = csrf();
  const r = await fetch(path, opts);
  let data = null;
  try { data = await r.json(); } catch (e) { data = null; }
  return { status: r.status, data };
}

function setStatus(text, cls) {
  const s = $("status");
  if (!s) return;
  s.textContent = text || "";
  s.className = cls || "";
}

function cell(tr, text, cls) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "" : String(text);
  if (cls) td.className = cls;
  tr.appendChild(td);
  return td;
}

// -- vote page ------------------------------------------------------------------------------
const vote = { battle: null, voted: false, busy: false };

async function loadBattle() {
  vote.busy = true;
  setStatus("Loading…");
  const { status, data } = await api("GET", "/api/battle?render=html");
  vote.busy = false;
  $("name-a").textContent = "";
  $("name-b").textContent = "";
  $("next").hidden = true;
  document.querySelectorAll("button.vote").forEach((b) => { b.disabled = false; b.classList.remove("chosen"); });
  if (status !== 200) {
    vote.battle = null;
    document.querySelectorAll("button.vote").forEach((b) => { b.disabled = true; });
    $("prompt").textContent = "";
    $("response-a").textContent = "";
    $("response-b").textContent = "";
    if (status === 401) { window.location.href = "/login"; return; }
    setStatus(data && data.detail ? data.detail : "Could not load a battle (" + status + ")", data && data.done ? "done" : "error");
    return;
  }
  vote.battle = data;
  vote.voted = false;
  $("prompt").innerHTML = data.prompt_html;        // sanitised server-side (referee.arena.render)
  $("response-a").innerHTML = data.response_a_html;
  $("response-b").innerHTML = data.response_b_html;
  window.scrollTo(0, 0);  // a new battle starts at its prompt (the vote bar is always in view)
  setStatus("");
}

async function castVote(winner) {
  if (!vote.battle || vote.voted || vote.busy) return;
  vote.busy = true;
  const { status, data } = await api("POST", "/api/vote", { battle_id: vote.battle.battle_id, winner });
  vote.busy = false;
  if (status !== 200) {
    setStatus(data && data.detail ? data.detail : "Vote failed (" + status + ")", "error");
    if (status === 409 || status === 404) { vote.voted = true; $("next").hidden = false; }
    return;
  }
  vote.voted = true;
  document.querySelectorAll("button.vote").forEach((b) => {
    b.disabled = true;
    if (b.dataset.winner === winner) b.classList.add("chosen");
  });
  // Names only when the server revealed them (`--reveal`); by default votes name nobody.
  const revealed = data && data.revealed === true;
  $("name-a").textContent = revealed ? "— " + data.model_a : "—";
  $("name-b").textContent = revealed ? "— " + data.model_b : "—";
  $("next").hidden = false;
  $("next").focus();
  setStatus("Thanks! Vote recorded.", "ok");
}

function initVote() {
  document.querySelectorAll("button.vote").forEach((b) => b.addEventListener("click", () => castVote(b.dataset.winner)));
  $("next").addEventListener("click", loadBattle);
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || e.target.tagName === "INPUT" || e.target.tagName === "TEXTAREA") return;
    const k = e.key.toLowerCase();
    const keys = { a: "model_a", arrowleft: "model_a", 1: "model_a", b: "model_b", arrowright: "model_b", 2: "model_b",
      t: "tie", 3: "tie", x: "tie (bothbad)", 4: "tie (bothbad)" };
    if (!vote.voted && keys[k]) { e.preventDefault(); castVote(keys[k]); }
    else if (vote.voted && (k === "n" || k === "enter" || k === " ")) { e.preventDefault(); loadBattle(); }
  });
  loadBattle();
}

// -- leaderboard page -------------------------------------------------------------------------
async function loadBoard() {
  const style = $("style-toggle").checked ? "on" : "off";
  const { status, data } = await api("GET", "/api/leaderboard?style=" + style);
  // A reply for the other setting (the box was toggled meanwhile) is stale: drop it.
  if (status !== 200 || !data || style !== ($("style-toggle").checked ? "on" : "off")) return;
  const body = document.querySelector("#board tbody");
  body.replaceChildren();
  const rows = data.models || [];
  const lo = Math.min(...rows.map((r) => r.ci_low ?? r.rating));
  const hi = Math.max(...rows.map((r) => r.ci_high ?? r.rating));
  for (const r of rows) {
    const tr = document.createElement("tr");
    tr.dataset.model = r.model;
    cell(tr, r.rank, "num");
    cell(tr, r.rank_low === r.rank_high ? String(r.rank_low ?? "") : (r.rank_low ?? "") + "–" + (r.rank_high ?? ""));
    cell(tr, r.model, "model");
    cell(tr, r.rating === null ? "" : r.rating.toFixed(0), "num");
    cell(tr, r.ci_low === null || r.ci_low === undefined ? "" : "[" + r.ci_low.toFixed(0) + ", " + r.ci_high.toFixed(0) + "]");
    const bar = cell(tr, "", "ci-col");
    if (r.ci_low !== null && r.ci_low !== undefined && hi > lo) {
      const span = document.createElement("span");
      span.className = "ci";
      span.style.left = (100 * (r.ci_low - lo) / (hi - lo)) + "%";
      span.style.width = Math.max(1, 100 * (r.ci_high - r.ci_low) / (hi - lo)) + "%";
      const dot = document.createElement("span");
      dot.className = "dot";
      dot.style.left = (100 * (r.rating - lo) / (hi - lo)) + "%";
      bar.append(span, dot);
    }
    cell(tr, r.battles, "num");
    cell(tr, [r.wins, r.losses, r.ties].map((x) => (x === null || x === undefined ? "" : Math.round(x))).join(" / "), "num");
    body.appendChild(tr);
  }
  const meta = data.meta || {};
  $("board-meta").textContent = (meta.n_comparisons ?? 0) + " votes" +
    (meta.style_control ? " · style control on" : "") +
    (meta.computed_at ? " · updated " + new Date(meta.computed_at * 1000).toLocaleTimeString() : "");
  const note = $("board-note");
  const notes = [meta.note, ...(meta.notes || [])].filter(Boolean);
  note.hidden = notes.length === 0;
  note.textContent = notes.join(" ");
}

function initLeaderboard() {
  $("style-toggle").addEventListener("change", loadBoard);
  loadBoard();
  setInterval(loadBoard, 10000);
}

// -- login ------------------------------------------------------------------------------------
function initLogin() {
  const form = $("login-form");
  if (!form) return;
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const { status, data } = await api("POST", "/api/login", { token: $("token").value });
    if (status === 200) { window.location.href = data.role === "admin" ? "/admin" : "/"; }
    else setStatus(data && data.detail ? data.detail : "Login failed", "error");
  });
}

// -- admin ------------------------------------------------------------------------------------
async function loadAdmin() {
  const m = await api("GET", "/api/admin/models");
  if (m.status === 200) {
    const body = document.querySelector("#models tbody");
    body.replaceChildren();
    for (const r of m.data.models) {
      const tr = document.createElement("tr");
      tr.dataset.model = r.model;
      cell(tr, r.model, "model");
      cell(tr, r.responses, "num");
      cell(tr, r.battles ?? 0, "num");
      cell(tr, r.hidden ? "hidden" : "live");
      const td = cell(tr, "");
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = r.hidden ? "Unhide" : "Hide";
      b.addEventListener("click", async () => {
        const res = await api("POST", "/api/admin/models", { model: r.model, hidden: !r.hidden });
        if (res.status !== 200) setStatus(res.data ? res.data.detail : "failed", "error");
        loadAdmin();
      });
      td.appendChild(b);
      body.appendChild(tr);
    }
  }
  const a = await api("GET", "/api/admin/annotators");
  if (a.status === 200) {
    const body = document.querySelector("#annotators tbody");
    body.replaceChildren();
    for (const r of a.data.annotators) {
      const tr = document.createElement("tr");
      cell(tr, r.name);
      cell(tr, r.battles, "num");
      cell(tr, r.votes, "num");
      cell(tr, r.last_vote ? new Date(r.last_vote * 1000).toLocaleString() : "—");
      body.appendChild(tr);
    }
  }
}

function initAdmin() {
  initLogin();
  const form = $("invite-form");
  if (!form) return;
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const res = await api("POST", "/api/admin/invite", { name: $("invite-name").value });
    const out = $("invite-result");
    out.replaceChildren();
    if (res.status !== 200) { out.textContent = res.data ? res.data.detail : "failed"; return; }
    out.append("Invite link for " + res.data.name + " (shown once): ");
    const code = document.createElement("code");
    code.textContent = res.data.link;
    out.appendChild(code);
    $("invite-name").value = "";
    loadAdmin();
  });
  loadAdmin();
}

document.addEventListener("DOMContentLoaded", () => {
  const lo = $("logout");
  if (lo) lo.addEventListener("click", async () => { await api("POST", "/api/logout", {}); window.location.href = "/login"; });
  const page = document.body.dataset.page;
  if (page === "vote") initVote();
  else if (page === "leaderboard") initLeaderboard();
  else if (page === "login") initLogin();
  else if (page === "admin") initAdmin();
});
