// The Schedules table of the dashboard: each entry's last run, last success and latest
// check-in, its pause, run-now and backfill actions. Spliced into index.html's script where it
// says so (src/http/ui/mod.rs): one page, no extra request, kept apart so each file stays one
// concept. An entry is addressed as #/schedules/<id, URI-encoded> (the link notifications
// carry): its row is scrolled to and highlighted.
const ago = (iso) => {
  const s = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 1000));
  return s < 60 ? `${s} s ago` : s < 3600 ? `${Math.round(s / 60)} min ago` : s < 86400 ? `${Math.round(s / 3600)} h ago` : `${Math.round(s / 86400)} d ago`;
};
// "check-in: success ✓ 2 min ago" / "check-in failed: HTTP 500 (fail, 1 min ago)": the latest
// check-in this replica sent, with its class (ok, bad, warn or none).
function checkinText(c) {
  const why = c.error || (c.status ? "HTTP " + c.status : "");
  switch (c.outcome) {
    case "delivered": return [`check-in: ${c.kind} ✓ ${ago(c.at)}`, "ok"];
    case "queued": return [`check-in: ${c.kind} handed to Sentry ${ago(c.at)}`, ""];
    case "sending": return [`check-in: ${c.kind} sending, attempt ${c.attempts + 1} of 3${why ? " (last: " + why + ")" : ""}`, "warn"];
    default: return [`check-in failed: ${why || "not sent"} (${c.kind}, ${ago(c.at)})`, "bad"];
  }
}
// The entry the address names (#/schedules/ID), if any; `scrolledTo` keeps a refresh from
// scrolling the page back to it every second.
const targetEntry = () => { const m = /^#\/schedules\/(.+)$/.exec(location.hash); try { return m ? decodeURIComponent(m[1]) : null; } catch { return null; } };
let scrolledTo = null;
window.addEventListener("hashchange", () => { scrolledTo = null; loadSchedules().catch((e) => say(e.message, "bad")); });
async function loadSchedules() {
  const rows = await api("/api/schedules");
  const body = $("schedules"); body.replaceChildren();
  if (!rows.length) body.append(el("tr", {}, el("td", { colspan: "6" }, "No schedules.")));
  for (const s of rows) {
    // A tick from before the entry existed here "never ran" (with when it was first seen), not "missing".
    const last = !s.last ? "—" : s.last.state === "never-ran"
      ? `never ran${s.first_seen ? " (first seen " + new Date(s.first_seen).toLocaleString() + ")" : ""}`
      : `${s.last.state} (${new Date(s.last.scheduled).toLocaleString()})`;
    const ok = s.last_success ? `last success ${ago(s.last_success.at)} (${new Date(s.last_success.at).toLocaleString()})` : "no success seen yet";
    const notes = [ok];
    if (s.stale) notes.push("STALE (past alert_after)");
    if (s.paused) notes.push("paused" + (s.paused.note ? ": " + s.paused.note : ""));
    const pauseBtn = s.paused
      ? el("button", { "aria-label": "Resume " + s.id, onclick: () => act(() => apiUrl("schedules", s.id, "resume"), "resumed " + s.id) }, "Resume")
      : el("button", { "aria-label": "Pause " + s.id, onclick: () => act(() => apiUrl("schedules", s.id, "pause"), "paused " + s.id) }, "Pause");
    const ci = s.checkin ? checkinText(s.checkin) : null;
    const ciLine = ci ? el("div", { class: "counts checkin " + ci[1], title: shown(`${s.checkin.service} ${s.checkin.url}, run ${s.checkin.job_id}, as sent by ${s.checkin.seen_by || "this daemon"}`) }, ci[0]) : "";
    const target = targetEntry() === s.id;
    body.append(el("tr", { "data-entry": s.id, class: target ? "target" : "" }, el("td", {}, el("strong", {}, s.label || s.id), el("div", { class: "counts" }, s.id + " · " + s.source)), el("td", {}, el("code", {}, s.schedule), " ", s.tz, el("div", { class: "counts" }, "overlap " + s.overlap)),
      el("td", {}, `${s.queue} / ${s.name}`), el("td", {}, s.next ? new Date(s.next).toLocaleString() : "never"),
      el("td", { class: (s.last && s.last.state === "failed") || s.stale ? "bad" : "" }, last, el("div", { class: "counts last-success" }, notes.join(" · ")), ciLine),
      el("td", {}, el("button", { "aria-label": "Run " + s.id + " now", onclick: () => act(() => apiUrl("schedules", s.id, "trigger"), "triggered " + s.id) }, "Run now"), " ", pauseBtn,
        " ", el("button", { "aria-label": "Backfill " + s.id, onclick: () => { backfillFor = s.id; $("bf-result").textContent = ""; $("bf-entry").textContent = shown(s.id); $("backfill").hidden = false; $("bf-from").focus(); } }, "Backfill…"))));
  }
  const t = targetEntry(), row = t && [...body.children].find((r) => r.dataset.entry === t);
  if (row && scrolledTo !== t) { scrolledTo = t; row.scrollIntoView({ block: "center" }); }
}
// Backfill: one form outside the table, since a busy queue rebuilds the rows every second and
// would drop what is typed in them. The entry it is for is `backfillFor`, set by a row's button.
let backfillFor = null;
$("bf-close").onclick = () => { $("backfill").hidden = true; };
$("backfill").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  try {
    const body = JSON.stringify({ from: new Date($("bf-from").value).toISOString(), to: new Date($("bf-to").value).toISOString() });
    const r = await api(apiUrl("schedules", backfillFor, "backfill"), { method: "POST", body });
    // Also kept in the form: the status line turns back to "live" at the next refresh.
    $("bf-result").textContent = shown(`backfill of ${backfillFor}: added ${r.added}`);
    say(shown(`backfill of ${backfillFor}: added ${r.added}`), "ok"); await refresh();
  } catch (e) { $("bf-result").textContent = shown(e.message); say(shown(e.message), "bad"); }
});
