// Why: tests/cards.rs needs to know what a Teams card shows once laid out, which only a browser
// knows. This renders each message (the body posted to a Teams Workflows webhook) with
// Microsoft's Adaptive Cards renderer in one headless Chromium, saves a PNG of each, and prints
// one JSON report per message on stdout (see page.js for what a report holds).
//
// Usage: node render.mjs OUT_DIR MESSAGE.json...   (writes OUT_DIR/<MESSAGE>.png)
// Chromium is Debian's (`CHROMIUM` overrides /usr/bin/chromium); nothing is downloaded, and the
// page may load nothing but its own files.
import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import puppeteer from "puppeteer-core";

const ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive";
const here = path.dirname(fileURLToPath(import.meta.url));
const [outDir, ...files] = process.argv.slice(2);
if (!outDir || files.length === 0) {
  console.error("usage: node render.mjs OUT_DIR MESSAGE.json...");
  process.exit(2);
}
// A browser that hangs must not hang the test run.
const watchdog = setTimeout(() => {
  console.error("render.mjs: no answer from Chromium after 120 s");
  process.exit(3);
}, 120_000);

const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  // Root in a container has no user namespace for Chromium's sandbox; the page is our own.
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--font-render-hinting=none", "--lang=en-US"],
  protocolTimeout: 60_000,
});
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 500, height: 800, deviceScaleFactor: 2 });
  // Teams shows times in the reader's zone; the test's reader is in UTC.
  await page.emulateTimezone("UTC");
  let requests = [];
  await page.setRequestInterception(true);
  page.on("request", (request) => {
    const url = request.url();
    if (url.startsWith("file:") || url.startsWith("data:")) {
      request.continue();
    } else {
      requests.push(url);
      request.abort();
    }
  });
  const pageErrors = [];
  page.on("pageerror", (error) => pageErrors.push(String(error)));
  await page.goto(pathToFileURL(path.join(here, "page.html")).href);
  await mkdir(outDir, { recursive: true });

  const reports = [];
  for (const file of files) {
    requests = [];
    pageErrors.length = 0;
    const name = path.basename(file, ".json");
    const message = JSON.parse(await readFile(file, "utf8"));
    const cards = (message.attachments ?? []).filter((a) => a.contentType === ADAPTIVE_CARD);
    if (cards.length !== 1) {
      reports.push({ name, problems: [`the message holds ${cards.length} Adaptive Cards, not one`] });
      continue;
    }
    const card = cards[0].content;
    const report = await page.evaluate((json) => window.renderCard(json), card);
    const screenshot = path.join(outDir, `${name}.png`);
    await (await page.$("#message")).screenshot({ path: screenshot });
    report.buttons = await page.evaluate(() => window.pressButtons());
    report.openUrls = openUrls(card);
    report.requests = requests;
    report.problems.push(...pageErrors);
    reports.push({ name, screenshot, ...report });
  }
  process.stdout.write(JSON.stringify(reports));
} finally {
  await browser.close();
  clearTimeout(watchdog);
}

// Every Action.OpenUrl anywhere in the card (buttons, select actions, action sets, cards that
// a button shows), pressed or not.
function openUrls(node, found = []) {
  if (Array.isArray(node)) {
    node.forEach((item) => openUrls(item, found));
  } else if (node && typeof node === "object") {
    if (node.type === "Action.OpenUrl") found.push({ title: node.title ?? null, url: node.url ?? null });
    Object.values(node).forEach((value) => openUrls(value, found));
  }
  return found;
}
