// The dashboard against hostile ids and names written by another producer (issue 25), in the
// open-API mode (loopback, no token): every action URL is built per segment, foreign text is
// shown escaped and never as HTML, invalid queue names are flagged, and SSE events coalesce.
// Usage: node hostile.mjs BASE_URL QUEUE HOSTILE_JOB_ID OTHER_QUEUE BIDI_JOB_ID
import { chromium } from "playwright-core";

const [base, queue, jobId, other, bidiId] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const fail = async (msg) => { console.error(msg); await browser.close(); process.exit(1); };
// Every check runs and reports, so one run shows each thing that is wrong.
const problems = [];
const problem = (msg) => { problems.push(msg); };
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  page.setDefaultTimeout(20000);
  // Fake timers (time flows until paused) so the coalescing check below controls time.
  await page.clock.install();
  await page.goto(base + "/");
  await page.getByRole("button", { name: new RegExp("^" + queue + "\\b") }).click();
  // Flagged names are listed as text with their reason, not as buttons, and never parsed as HTML.
  const flagged = await page.locator(".invalid-queue").allInnerTexts();
  if (!flagged.some(t => t.includes("<img")) || !flagged.some(t => t.includes("ev/../il")))
    problem("invalid queue names not flagged: " + JSON.stringify(flagged));
  if (await page.locator("#queues button", { hasText: "ev/../il" }).count()) problem("an invalid queue is actionable");
  if (await page.evaluate(() => window.__pwned || document.querySelectorAll("img").length))
    problem("a queue name was rendered as HTML");
  await page.getByRole("button", { name: "failed", exact: true }).click();
  // The bidi override is shown escaped, so the id cannot read as "exe.png".
  const ids = await page.locator("a.job").allInnerTexts();
  const bidiShown = "\\u{202e}" + bidiId.slice(1);
  if (!ids.includes(bidiShown)) problem("bidi id not escaped: " + JSON.stringify(ids));
  if (ids.some(t => t.includes("\u202e"))) problem("a raw bidi override is shown");
  await page.locator("a.job", { hasText: jobId }).click();
  await page.locator("#job-state", { hasText: "failed" }).waitFor();
  const [retry] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === "POST"),
    page.getByRole("button", { name: "Retry", exact: true }).click(),
  ]);
  const want = base + "/api/queues/" + encodeURIComponent(queue) + "/jobs/" + encodeURIComponent(jobId) + "/retry";
  if (retry.url() !== want || retry.status() !== 200)
    problem(`Retry sent ${retry.url()} → ${retry.status()}; expected ${want} → 200`);
  const queues = await page.evaluate(async () => (await fetch("/api/queues")).json());
  const o = queues.find(q => q.name === other);
  if (!o || o.paused) problem(`Retry of ${jobId} paused ${other}: ${JSON.stringify(o)}`);

  // Coalescing: 20 events 200 ms apart (each more than the old 150 ms debounce) refresh the
  // lists at most once a second, not 20 times. Each refresh starts with GET /api/queues.
  await page.evaluate(() => {
    window.__refreshes = 0;
    const real = window.fetch;
    window.fetch = (u, o) => { if (String(u) === "/api/queues") window.__refreshes++; return real(u, o); };
  });
  const now = await page.evaluate(() => Date.now());
  await page.clock.pauseAt(now + 2000);
  await page.clock.runFor(2000);
  await page.evaluate(() => { window.__refreshes = 0; });
  for (let i = 0; i < 20; i++) {
    await page.evaluate(() => es.dispatchEvent(new MessageEvent("completed", { data: "{}" })));
    await page.clock.runFor(200);
  }
  await page.clock.runFor(1000);
  const refreshes = await page.evaluate(() => window.__refreshes);
  if (refreshes < 2 || refreshes > 6) problem(`20 events over 4 s caused ${refreshes} refreshes (expected 2..=6)`);
  if (problems.length) await fail(problems.join("\n"));
  console.log(JSON.stringify({ ok: true, refreshes }));
} catch (e) {
  await fail(String(e && e.stack || e));
}
await browser.close();
