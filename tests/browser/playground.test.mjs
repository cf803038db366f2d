// The playground page (GET /) in Debian's headless Chromium, driven by
// playwright-core, against a running `vocalis serve` (scripts/browser-tests.sh
// starts it and sets the environment below).
//
// Chromium's fake microphone plays SPEECH_WAV (speech made by the server's
// own voice, padded with silence, looped). The test enters a wrong key and
// then the right one, streams the microphone to /ws/stt and waits for a
// final with the spoken words, speaks text over /ws/tts and waits until
// audio has played, uploads the WAV and a clip from the browser's recorder
// for file transcription, and fails if the page made any request outside
// the server's origin. Screenshots go to ARTIFACTS.
//
// Environment: VOCALIS_URL, VOCALIS_KEY, VOCALIS_DEV_KEY_PATH, SPEECH_WAV,
// SPEECH_TEXT, ARTIFACTS, CHROMIUM, BROWSER_NODE (where playwright-core is
// installed).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import path from 'node:path';
import fs from 'node:fs';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (run scripts/browser-tests.sh)`);
  return value;
};

const url = env('VOCALIS_URL');
const key = env('VOCALIS_KEY');
const wav = env('SPEECH_WAV');
const spoken = env('SPEECH_TEXT');
const artifacts = env('ARTIFACTS');
const require = createRequire(path.join(env('BROWSER_NODE'), 'package.json'));
const { chromium } = require('playwright-core');

// Lower-case words without punctuation.
const words = (text) => text.toLowerCase().replace(/[^\w' ]+/g, ' ').split(/\s+/).filter(Boolean);

// How many of the spoken sentence's longer words `text` contains.
function recalled(text) {
  const heard = new Set(words(text));
  const expected = words(spoken).filter((w) => w.length > 3);
  return { found: expected.filter((w) => heard.has(w)), expected };
}

const origin = new URL(url).origin;
const wsOrigin = origin.replace(/^http/, 'ws');

test('playground page in headless Chromium', { timeout: 180_000 }, async (t) => {
  fs.mkdirSync(artifacts, { recursive: true });
  const browser = await chromium.launch({
    executablePath: env('CHROMIUM'),
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      `--use-file-for-fake-audio-capture=${wav}`,
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
  t.after(() => browser.close());
  const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
  await context.grantPermissions(['microphone'], { origin });
  const page = await context.newPage();

  const requests = [];
  const outside = [];
  const note = (address) => {
    requests.push(address);
    if (address.startsWith('blob:') || address.startsWith('data:')) return;
    const u = new URL(address);
    const o = u.protocol.startsWith('ws') ? `${u.protocol}//${u.host}`.replace(/^ws/, 'http') : u.origin;
    if (o !== origin) outside.push(address);
  };
  page.on('request', (r) => note(r.url()));
  page.on('websocket', (ws) => note(ws.url()));
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));

  const shot = (name) => page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true });

  await t.test('the page loads with a strict CSP and shows where the developer key is', async () => {
    const response = await page.goto(url);
    assert.equal(response.status(), 200);
    const csp = response.headers()['content-security-policy'] || '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self';/);
    assert.ok(csp.includes(`${wsOrigin}`), `CSP allows the page's WebSocket origin: ${csp}`);
    await page.locator('#dev-key-hint').waitFor({ state: 'visible' });
    const hint = await page.locator('#dev-key-hint').textContent();
    assert.ok(hint.includes(env('VOCALIS_DEV_KEY_PATH')), hint);
    assert.ok(!hint.includes(key), 'the hint never shows the key');
    await page.locator('#h-workers').filter({ hasText: 'busy' }).waitFor();
    await shot('01-loaded');
  });

  await t.test('a wrong key is reported as such', async () => {
    await page.fill('#api-key', 'sk_live_wrongwrongwrong');
    await page.click('#key-save');
    await page.locator('#key-status').filter({ hasText: '401' }).waitFor();
    await page.click('#mic-start');
    await page.locator('#mic-status').filter({ hasText: '401' }).waitFor();
    await shot('02-wrong-key');
  });

  await t.test('the right key is accepted and voices are listed', async () => {
    await page.fill('#api-key', key);
    await page.press('#api-key', 'Enter');
    await page.locator('#key-status').filter({ hasText: 'Key accepted' }).waitFor();
    assert.equal(await page.evaluate(() => localStorage.getItem('vocalis.apiKey')), key);
    await page.locator('#tts-voice option').first().waitFor({ state: 'attached' });
    const voices = await page.locator('#tts-voice option').allTextContents();
    assert.ok(voices.some((v) => v.includes('en_US')), voices.join());
  });

  await t.test('live microphone transcription shows a final with the spoken words', async () => {
    // With speaker labels on: finals carry the speaker from live diarization.
    await page.check('#live-diarize');
    await page.click('#mic-start');
    await page.locator('#mic-status').filter({ hasText: 'Listening' }).waitFor({ timeout: 20_000 });
    await page.waitForFunction(
      (expected) => {
        const text = document.getElementById('live-transcript').textContent.toLowerCase();
        return expected.filter((w) => text.includes(w)).length >= Math.ceil(expected.length / 2);
      },
      words(spoken).filter((w) => w.length > 3),
      { timeout: 60_000 },
    );
    const transcript = await page.locator('#live-transcript').textContent();
    const { found, expected } = recalled(transcript);
    assert.ok(found.length >= Math.ceil(expected.length / 2), `heard ${found} of ${expected} in “${transcript}”`);
    const speaker = await page.locator('#live-finals .speaker').first().textContent({ timeout: 30_000 });
    assert.match(speaker, /^Speaker \d+$/, `speaker label shown: ${speaker}`);
    const latency = await page.locator('#live-finals .meta').first().getAttribute('data-latency-ms');
    assert.ok(Number(latency) >= 0, `latency shown: ${latency}`);
    await shot('03-live');
    await page.click('#mic-stop');
    await page.locator('#mic-status').filter({ hasText: 'Stopped' }).waitFor({ timeout: 20_000 });
  });

  await t.test('text to speech plays audio streamed from /ws/tts', async () => {
    await page.fill('#tts-text', 'The playground speaks this sentence aloud.');
    await page.click('#tts-play');
    await page.locator('#tts-status').filter({ hasText: 'Played' }).waitFor({ timeout: 60_000 });
    const played = Number(await page.locator('#tts-played').getAttribute('data-seconds'));
    assert.ok(played > 0.5, `played ${played} s`);
    const first = await page.locator('#tts-first').getAttribute('data-ms');
    assert.ok(first !== null && Number(first) > 0, `time to first audio shown: ${first}`);
    await shot('04-tts');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#tts-download')]);
    const wavBytes = fs.readFileSync(await download.path());
    assert.equal(wavBytes.subarray(0, 4).toString(), 'RIFF');
    assert.ok(wavBytes.length > 44 + 22050, `downloaded WAV of ${wavBytes.length} bytes`);
  });

  await t.test('an uploaded file is transcribed with segments and word timings', async () => {
    await page.setInputFiles('#file-input', wav);
    await page.click('#file-go');
    await page.locator('#file-status').filter({ hasText: 'Done' }).waitFor({ timeout: 60_000 });
    const text = await page.locator('#file-text').textContent();
    const { found, expected } = recalled(text);
    assert.ok(found.length >= Math.ceil(expected.length * 0.6), `heard ${found} of ${expected} in “${text}”`);
    assert.ok(await page.locator('#file-segments tbody tr').count() >= 1);
    assert.ok(await page.locator('#file-words span').count() >= 3);
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#file-srt')]);
    const srt = fs.readFileSync(await download.path(), 'utf8');
    assert.match(srt, /^1\r?\n\d\d:\d\d:\d\d,\d\d\d --> /);
    await page.locator('#u-sessions').filter({ hasNotText: '–' }).waitFor();
    await shot('05-file');
  });

  await t.test("a clip from the browser's own recorder (WebM/Ogg Opus) is transcribed", async () => {
    await page.click('#rec-start');
    // One loop of the fake microphone is 0.5 s + the sentence + 2 s; 11 s
    // holds at least one whole sentence wherever the loop is.
    await page.waitForFunction(() => Number(document.getElementById('rec-time').dataset.seconds) >= 11, null, { timeout: 30_000 });
    await page.click('#rec-stop');
    await page.locator('#file-status').filter({ hasText: 'recording.' }).waitFor();
    await page.click('#file-go');
    await page.locator('#file-status').filter({ hasText: 'Done' }).waitFor({ timeout: 60_000 });
    const text = await page.locator('#file-text').textContent();
    const { found, expected } = recalled(text);
    assert.ok(found.length >= Math.ceil(expected.length / 2), `heard ${found} of ${expected} in “${text}”`);
    await shot('06-recorder');
  });

  await t.test('every control has a label and the keyboard reaches the microphone', async () => {
    const unlabelled = await page.evaluate(() => [...document.querySelectorAll('input, select, textarea')]
      .filter((el) => !el.labels?.length && !el.getAttribute('aria-label'))
      .map((el) => el.id));
    assert.deepEqual(unlabelled, []);
    await page.focus('#api-key');
    let reached = false;
    for (let i = 0; i < 8 && !reached; i++) {
      await page.keyboard.press('Tab');
      reached = await page.evaluate(() => document.activeElement.id === 'mic-start');
    }
    assert.ok(reached, 'Tab from the key field reaches "Start microphone"');
  });

  await t.test('a phone-sized screen shows the page without sideways scrolling', async () => {
    await page.setViewportSize({ width: 375, height: 740 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `page is ${overflow}px wider than the screen`);
    await shot('07-phone');
  });

  await t.test('a refused microphone and a busy server are explained', async () => {
    // A second tab where the browser refuses the microphone and the server
    // answers uploads with 503, as it does when every worker is taken.
    const other = await context.newPage();
    await other.addInitScript(() => {
      navigator.mediaDevices.getUserMedia = async () => {
        throw new DOMException('Permission denied', 'NotAllowedError');
      };
    });
    await other.route('**/v1/audio/transcriptions', (route) => route.fulfill({
      status: 503,
      contentType: 'application/json',
      body: JSON.stringify({ error: { code: 'busy', message: 'every speech worker is busy' } }),
    }));
    other.on('request', (r) => note(r.url()));
    await other.goto(url);
    await other.locator('#key-status').filter({ hasText: 'Key accepted' }).waitFor();
    // With a stored key the status panel still connects (no subprotocol
    // offered unless the server asks for a key on /ws/health).
    await other.locator('#h-workers').filter({ hasText: 'busy' }).waitFor({ timeout: 10_000 });
    await other.click('#mic-start');
    await other.locator('#mic-status').filter({ hasText: 'Microphone access was refused' }).waitFor();
    await other.setInputFiles('#file-input', wav);
    await other.click('#file-go');
    await other.locator('#file-status').filter({ hasText: 'The server is busy (503)' }).waitFor();
    await other.screenshot({ path: path.join(artifacts, '08-refused-and-busy.png'), fullPage: true });
    await other.close();
  });

  await t.test('every request stayed on the server and the page logged no errors', () => {
    assert.ok(requests.length > 5, `requests seen: ${requests.length}`);
    assert.deepEqual(outside, []);
    // The deliberate wrong key makes the browser log failed requests/sockets.
    const unexpected = consoleErrors.filter((e) => !/401|Unauthorized|WebSocket/.test(e));
    assert.deepEqual(unexpected, []);
  });
});
