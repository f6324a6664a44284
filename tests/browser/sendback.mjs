// Loads the dashboard of a running daemon, signs in, opens a dead letter in its queue's
// waiting list, clicks "Send back to ORIGIN", and waits until the letter is gone from the list.
// Usage: node sendback.mjs BASE_URL TOKEN DLQ LETTER_ID ORIGIN
import { chromium } from "playwright-core";

const [base, token, queue, jobId, origin] = process.argv.slice(2);
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
  await page.getByRole("button", { name: "waiting", exact: true }).click();
  await page.locator(`a[data-job="${jobId}"]`).click();
  await page.getByRole("button", { name: "Send back to " + origin, exact: true }).click();
  await page.locator(`a[data-job="${jobId}"]`).waitFor({ state: "detached" });
  console.log(JSON.stringify({ ok: true }));
} catch (e) {
  await fail(String(e && e.stack || e));
}
await browser.close();
