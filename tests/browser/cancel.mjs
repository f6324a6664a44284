// Loads the dashboard of a running daemon, signs in, opens the queue's active job, clicks
// Cancel, and waits until the page shows it failed with the reason naming who cancelled it.
// Usage: node cancel.mjs BASE_URL TOKEN QUEUE JOB_ID
import { chromium } from "playwright-core";

const [base, token, queue, jobId] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const fail = async (msg) => { console.error(msg); await browser.close(); process.exit(1); };
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  page.setDefaultTimeout(20000);
  await page.goto(base + "/");
  await page.getByLabel("API token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("button", { name: new RegExp("^" + queue + "\\b") }).click();
  await page.getByRole("button", { name: "active", exact: true }).click();
  await page.locator(`a[data-job="${jobId}"]`).click();
  await page.locator("#job-state", { hasText: "active" }).waitFor();
  await page.getByRole("button", { name: "Cancel", exact: true }).click();
  // The answer comes once the run ended; the page then shows the job failed.
  await page.locator("#job-state", { hasText: "failed" }).waitFor();
  const reason = await page.locator("pre.bad").innerText();
  if (!reason.includes("cancelled on request (by the API of worker")) await fail("reason not shown: " + reason);
  if (await page.locator("#cancel-job").count()) await fail("a failed job still offers Cancel");
  console.log(JSON.stringify({ ok: true, reason }));
} catch (e) {
  await fail(String(e && e.stack || e));
}
await browser.close();
