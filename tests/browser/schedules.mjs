// Loads the dashboard of a running daemon, signs in, and works one schedule entry from its row:
// reads its "never ran" label, pauses and resumes it, and backfills its last three days. Then
// reads the check-in and last-success lines of entries GOOD (receiver answers 200) and BAD
// (answers 500), and opens #/schedules/ENTRY (the link notifications carry).
// Prints {"never_ran", "paused_note", "backfill", "good_checkin", "good_success",
// "bad_checkin", "target"} (the texts seen). Usage:
// node schedules.mjs BASE_URL TOKEN ENTRY GOOD BAD
import { chromium } from "playwright-core";

const [base, token, entry, good, bad] = process.argv.slice(2);
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
  // Check-ins: a delivered success, and a check-in refused three times.
  const goodRow = page.locator("#schedules tr", { hasText: good });
  await goodRow.locator(".checkin", { hasText: "check-in: success ✓" }).waitFor();
  const goodCheckin = await goodRow.locator(".checkin").innerText();
  await goodRow.locator(".last-success", { hasText: "last success" }).waitFor();
  const goodSuccess = await goodRow.locator(".last-success").innerText();
  const badRow = page.locator("#schedules tr", { hasText: bad });
  await badRow.locator(".checkin", { hasText: "check-in failed" }).waitFor({ timeout: 60000 });
  const badCheckin = await badRow.locator(".checkin").innerText();
  // The entry's address: its row highlighted and scrolled into view.
  await page.goto(base + "/#/schedules/" + encodeURIComponent(entry));
  const target = page.locator("#schedules tr.target");
  await target.waitFor();
  const targetText = await target.locator("td").first().innerText();
  const inView = await target.evaluate((r) => { const b = r.getBoundingClientRect(); return b.top >= 0 && b.bottom <= innerHeight; });
  console.log(JSON.stringify({ never_ran: neverRan, paused_note: pausedNote, backfill,
    good_checkin: goodCheckin, good_success: goodSuccess, bad_checkin: badCheckin, target: targetText, target_in_view: inView }));
} catch (e) {
  await fail(String(e && e.stack || e));
}
await browser.close();
