// The dashboard's pictures, in headless Chromium: after jobs ran, the throughput chart has
// points (and its text equivalent has rows); the schedules timeline shows runs in their outcome
// colours, and a failed run links to its job. Saves a desktop and a 390 px screenshot.
// Usage: node charts.mjs BASE_URL TOKEN QUEUE GOOD_ENTRY BAD_ENTRY SCREENSHOT_DIR
import { chromium } from "playwright-core";

const [base, token, queue, good, bad, shots] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const fail = async (msg) => { console.error(msg); await browser.close(); process.exit(1); };
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(20000);
  await page.goto(base + "/");
  await page.getByLabel("API token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  const queueButton = page.getByRole("button", { name: new RegExp("^" + queue + "\\b") });
  await queueButton.click();
  // Counts are written for people.
  const label = await queueButton.getAttribute("aria-label");
  if (!/\d+ completed/.test(label) || /\dw /.test(label)) await fail("counts not written out: " + label);
  // Throughput: points drawn, and a screen-reader table with at least one row of numbers.
  await page.locator("#chart-throughput circle.pt.completed").first().waitFor();
  const rows = await page.locator("#chart-throughput table.sr-only tr").count();
  if (rows < 2) await fail("the throughput chart has no text equivalent rows");
  const title = await page.locator("#chart-throughput svg title").first().textContent();
  if (!title.includes("Throughput")) await fail("chart title missing: " + title);
  await page.locator("#chart-duration circle.pt").first().waitFor();
  // Timeline: outcome colours.
  const okRun = page.locator(`svg[data-entry="${good}"] rect.run.completed`).first();
  await okRun.waitFor();
  const okFill = await okRun.getAttribute("fill");
  const badRun = page.locator(`svg[data-entry="${bad}"] a.failed-run rect.run.failed`).first();
  await badRun.waitFor();
  const badFill = await badRun.getAttribute("fill");
  if (okFill !== "#146c2e" || badFill !== "#b3261e") await fail(`colours: completed ${okFill}, failed ${badFill}`);
  const nexts = await page.locator(`svg[data-entry="${good}"] circle.next`).count();
  if (nexts < 1) await fail("no next fires shown");
  // A failed run links to its job.
  const link = page.locator(`svg[data-entry="${bad}"] a.failed-run`).first();
  const jobId = await link.getAttribute("data-job");
  await link.dispatchEvent("click");
  await page.locator("#detail h3", { hasText: jobId }).waitFor();
  await page.locator("#job-state", { hasText: "failed" }).waitFor();
  await page.screenshot({ path: shots + "/dashboard.png", fullPage: true });
  // Readable on a phone: no sideways scrolling, charts still drawn.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.locator("#chart-throughput svg").waitFor();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  if (overflow > 2) await fail("page scrolls sideways on a phone by " + overflow + "px");
  await page.evaluate(() => document.getElementById("charts-h").scrollIntoView({ block: "start" }));
  await page.screenshot({ path: shots + "/dashboard-mobile.png" });
  console.log(JSON.stringify({ ok: true, jobId, rows, nexts }));
} catch (e) {
  await fail(String(e && e.stack || e));
}
await browser.close();
