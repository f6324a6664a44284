// Signs in to the dashboard and checks how queues read: ORPHAN (jobs waiting, consumed by no
// handler of this daemon) says "no consumer here" with its hint, in text and in the button's
// accessible name; CONSUMED does not. Saves a screenshot.
// Usage: node unconsumed.mjs BASE_URL TOKEN ORPHAN CONSUMED SCREENSHOT_PATH
import { chromium } from "playwright-core";

const [base, token, orphan, consumed, shot] = process.argv.slice(2);
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
  const orphanButton = page.getByRole("button", { name: new RegExp("^" + orphan + "\\b") });
  await orphanButton.waitFor();
  const consumedButton = page.getByRole("button", { name: new RegExp("^" + consumed + "\\b") });
  await consumedButton.waitFor();
  const orphanRow = page.getByRole("listitem").filter({ has: orphanButton });
  const consumedRow = page.getByRole("listitem").filter({ has: consumedButton });
  await orphanRow.locator(".no-consumer").waitFor();
  const orphanText = await orphanRow.innerText();
  const consumedText = await consumedRow.innerText();
  const orphanName = await orphanButton.getAttribute("aria-label");
  const consumedName = await consumedButton.getAttribute("aria-label");
  if (shot) await page.screenshot({ path: shot, fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  if (overflow > 2) await fail("page scrolls sideways on a phone by " + overflow + "px");
  console.log(JSON.stringify({ ok: true, orphanText, consumedText, orphanName, consumedName }));
} catch (e) {
  await fail(String(e && e.stack || e));
}
await browser.close();
