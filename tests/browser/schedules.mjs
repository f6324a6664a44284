// Loads the dashboard of a running daemon, signs in, and works one schedule entry from its row:
// reads its "never ran" label, pauses and resumes it, and backfills its last three days.
// Prints {"never_ran", "paused_note", "backfill"} (the texts seen). Usage:
// node schedules.mjs BASE_URL TOKEN ENTRY
import { chromium } from "playwright-core";

const [base, token, entry] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const fail = async (msg) => { console.error(msg); await browser.close(); process.exit(1); };
// A datetime-local value ("YYYY-MM-DDTHH:MM") in this machine's zone, which Chromium shares.
const local = (d) => {
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
};
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  page.setDefaultTimeout(20000);
  await page.goto(base + "/");
  await page.getByLabel("API token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  const row = page.locator("#schedules tr", { hasText: entry });
  await row.getByText("never ran").waitFor();
  const neverRan = await row.locator("td").nth(4).innerText();
  await page.getByRole("button", { name: "Pause " + entry, exact: true }).click();
  await page.getByRole("button", { name: "Resume " + entry, exact: true }).waitFor();
  const pausedNote = await row.locator("td").nth(4).innerText();
  await page.getByRole("button", { name: "Resume " + entry, exact: true }).click();
  await page.getByRole("button", { name: "Pause " + entry, exact: true }).waitFor();
  await page.getByRole("button", { name: "Backfill " + entry, exact: true }).click();
  const now = new Date();
  await page.locator("#bf-from").fill(local(new Date(now.getTime() - 3 * 86400e3)));
  await page.locator("#bf-to").fill(local(now));
  await page.getByRole("button", { name: "Add the ticks" }).click();
  const status = page.locator("#bf-result", { hasText: "backfill of" });
  await status.waitFor();
  const backfill = await status.innerText();
  console.log(JSON.stringify({ never_ran: neverRan, paused_note: pausedNote, backfill }));
} catch (e) {
  await fail(String(e && e.stack || e));
}
await browser.close();
