// The dashboard's Programs panel in a running daemon (open mode: loopback, no token): it shows
// the instance RUNNING with its pid and last output lines; Stop and Start buttons change its
// state; a hostile output line is shown as text, not markup. Saves a screenshot.
// Usage: node programs.mjs BASE_URL INSTANCE SCREENSHOT_PATH
import { chromium } from "playwright-core";

const [base, instance, shot] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const fail = async (msg) => { console.error(msg); await browser.close(); process.exit(1); };
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(20000);
  let alerted = false;
  page.on("dialog", async (d) => { alerted = true; await d.dismiss(); });
  await page.goto(base + "/");
  const row = page.locator(`tr[data-program="${instance}"]`);
  await row.locator(".program-state", { hasText: /^RUNNING$/ }).waitFor();
  const pid = (await row.locator("td").nth(2).innerText()).trim();
  if (!/^\d+$/.test(pid)) await fail("no pid shown: " + pid);
  await row.locator("pre", { hasText: "consumer 0 started" }).waitFor();
  await row.locator("pre", { hasText: "<img src=x onerror=alert(1)>" }).waitFor();
  await page.getByRole("button", { name: `Stop ${instance}`, exact: true }).click();
  await row.locator(".program-state", { hasText: /^STOPPED$/ }).waitFor();
  await page.getByRole("button", { name: `Start ${instance}`, exact: true }).click();
  await row.locator(".program-state", { hasText: /^RUNNING$/ }).waitFor();
  const newPid = (await row.locator("td").nth(2).innerText()).trim();
  if (newPid === pid) await fail("start did not start a new process");
  if (alerted) await fail("program output ran as markup");
  if (shot) await page.screenshot({ path: shot, fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  console.log(JSON.stringify({ ok: true, pid, newPid, overflow }));
} catch (e) {
  await fail(String(e && e.stack || e));
}
await browser.close();
