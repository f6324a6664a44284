// Loads the dashboard of a running daemon, signs in with the API token, finds the failed job,
// clicks Retry, waits until the page shows it completed, and saves a screenshot.
// Usage: node dashboard.mjs BASE_URL TOKEN QUEUE JOB_ID SCREENSHOT_PATH [FORBIDDEN_TEXT]
// FORBIDDEN_TEXT (e.g. a temporary directory) must appear nowhere on the page.
import { chromium } from "playwright-core";

const [base, token, queue, jobId, shot, forbidden] = process.argv.slice(2);
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
  // The API needs the token: the page asks for it.
  await page.getByLabel("API token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("button", { name: new RegExp("^" + queue + "\\b") }).click();
  await page.getByRole("button", { name: "failed", exact: true }).click();
  await page.locator(`a[data-job="${jobId}"]`).click();
  await page.locator("#job-state", { hasText: "failed" }).waitFor();
  const errorText = await page.locator("pre.bad").innerText();
  if (!errorText.includes("first attempt fails")) await fail("error not shown: " + errorText);
  await page.getByRole("button", { name: "Retry", exact: true }).click();
  // Live updates over SSE re-render the detail until it says completed.
  await page.locator("#job-state", { hasText: "completed" }).waitFor();
  const result = await page.locator("pre").filter({ hasText: "second" }).first().innerText();
  // Keyboard: the state buttons are reachable and pressable with the keyboard.
  await page.getByRole("button", { name: "completed", exact: true }).focus();
  await page.keyboard.press("Enter");
  await page.locator(`a[data-job="${jobId}"]`).waitFor();
  await page.locator(`a[data-job="${jobId}"]`).click();
  await page.locator("#job-state", { hasText: "completed" }).waitFor();
  const text = await page.locator("body").innerText();
  if (forbidden && text.includes(forbidden)) await fail("the page shows " + forbidden);
  if (shot) await page.screenshot({ path: shot, fullPage: true });
  // Readable on a phone: no horizontal scrolling at 390 px.
  await page.setViewportSize({ width: 390, height: 844 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  if (overflow > 2) await fail("page scrolls sideways on a phone by " + overflow + "px");
  console.log(JSON.stringify({ ok: true, result }));
} catch (e) {
  await fail(String(e && e.stack || e));
}
await browser.close();
