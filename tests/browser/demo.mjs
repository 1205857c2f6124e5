// Drives the demo page (`/demo/` of a running local server) in Debian's chromium, headless,
// with a CDP virtual authenticator as the passkey. Started by tests/tests/browser.rs:
//
//   node demo.mjs <page URL> <screenshot folder>
//
// It writes one JSON object per line to stdout: {"step": name, "ms": ...} after each step,
// {"code_for": email} when it needs the code just mailed there, {"wallet_address": true} and
// {"sign": message} when the page's wallet (window.ethereum, played here) needs the test
// wallet's address or an EIP-191 signature (each answered by the next line of stdin),
// {"skipped": what, "why": ...}, and {"done": true} last. Any failure ends it with a
// non-zero status, a message on stderr and a screenshot `failed.png`.
// The passkey steps run only where the server describes passkey routes (openapi.json), and
// the two-step sign-in (TOTP) steps where it describes totp/ routes; this computes the
// codes an authenticator app would show from the secret the page shows.
// The browser is `CHROMIUM` (default /usr/bin/chromium): nothing is downloaded.

import { createHmac } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [pageUrl, shots] = process.argv.slice(2);
if (!pageUrl || !shots) {
  console.error('usage: node demo.mjs <page URL> <screenshot folder>');
  process.exit(2);
}
mkdirSync(shots, { recursive: true });

const EMAIL = 'ada@example.com';
const PASSWORD = 'Correct-Horse-9-Battery';
// Long enough for a slow, busy machine; a step that works is done in well under a second.
const WAIT = 30_000;

const say = (object) => process.stdout.write(`${JSON.stringify(object)}\n`);
const reader = createInterface({ input: process.stdin });
const lines = reader[Symbol.asyncIterator]();

async function ask(question, pattern) {
  say(question);
  const { value, done } = await lines.next();
  if (done || !pattern.test(value.trim())) throw new Error(`no answer to ${JSON.stringify(question)} on stdin (got ${JSON.stringify(value)})`);
  return value.trim();
}

const codeFor = (email) => ask({ code_for: email }, /^\d+$/);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});
const context = await browser.newContext({ viewport: { width: 1180, height: 900 } });
const page = await context.newPage();
page.setDefaultTimeout(WAIT);

// The page must run without an uncaught error and without a Content-Security-Policy
// violation (which would mean something inline or from elsewhere).
const problems = [];
page.on('pageerror', (error) => problems.push(`uncaught: ${error.message}`));
page.on('console', (message) => {
  if (/Content.Security.Policy/i.test(message.text())) problems.push(`CSP: ${message.text()}`);
});

// A wallet in the page (what MetaMask injects), whose key the test holds.
let walletAddress = null;
await page.exposeFunction('blockauthTestWallet', async (method, params) => {
  if (method === 'eth_requestAccounts') {
    walletAddress = await ask({ wallet_address: true }, /^0x[0-9a-fA-F]{40}$/);
    return [walletAddress];
  }
  if (method === 'eth_chainId') return '0x1';
  if (method === 'personal_sign') {
    const message = Buffer.from(String(params[0]).replace(/^0x/, ''), 'hex').toString('utf8');
    return ask({ sign: message }, /^0x[0-9a-f]{130}$/);
  }
  throw new Error(`the test wallet does not do ${method}`);
});
await page.addInitScript(() => {
  window.ethereum = { request: ({ method, params }) => window.blockauthTestWallet(method, params || []) };
});

let number = 0;
async function step(name, work) {
  const started = Date.now();
  await work();
  if (problems.length) throw new Error(`after ${name}: ${problems.join('; ')}`);
  number += 1;
  await page.screenshot({ path: join(shots, `${String(number).padStart(2, '0')}-${name}.png`), fullPage: true });
  say({ step: name, ms: Date.now() - started });
}

const text = (selector) => page.locator(selector).innerText();

async function expectText(selector, wanted) {
  await page.waitForFunction(
    ([s, w]) => (document.querySelector(s)?.textContent ?? '').includes(w),
    [selector, wanted],
    { timeout: WAIT },
  ).catch(async () => {
    throw new Error(`${selector} should say ${JSON.stringify(wanted)}, says ${JSON.stringify(await text(selector).catch(() => '(absent)'))}`);
  });
}

// Signed in, by `method` (what the page shows in "Signed in by").
async function expectSignedIn(method) {
  await page.locator('#session').waitFor({ state: 'visible' });
  await expectText('#signed-in-by', method);
  await expectText('#user-email', EMAIL);
}

async function expectSignedOut() {
  await page.locator('#signed-out-note').waitFor({ state: 'visible' });
}

async function expectError(wanted) {
  await page.locator('#message[data-kind="error"]').waitFor();
  await expectText('#message', wanted);
}

async function logOut() {
  await page.click('#logout-button');
  await expectSignedOut();
  await expectText('#message', 'Logged out');
}

async function claims() {
  return JSON.parse(await text('#token-claims'));
}

// RFC 4648 base32 (the secret as the page shows it) to bytes.
function base32(secret) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const bytes = [];
  let bits = 0;
  let value = 0;
  for (const c of secret.toUpperCase().replace(/[\s=]/g, '')) {
    const index = alphabet.indexOf(c);
    if (index < 0) throw new Error(`the secret is not base32: ${JSON.stringify(secret)}`);
    value = ((value << 5) | index) & 0x1fff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      bytes.push((value >>> bits) & 0xff);
    }
  }
  return Buffer.from(bytes);
}

// RFC 6238 TOTP as authenticator apps make it: HMAC-SHA-1, 30-s steps, 6 digits; the code
// of the step at `at` (ms since the epoch).
function totp(secret, at = Date.now()) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 30_000)));
  const mac = createHmac('sha1', base32(secret)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

// RFC 6238's own vector (SHA-1, T = 59 s: 94287082, of which apps show the last 6 digits).
if (totp('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ', 59_000) !== '287082') throw new Error('totp() is wrong');

// A code is computed at least 5 s before its step ends, so that the server still sees that
// step when it checks it (within its one step of drift in any case); else this waits the
// few seconds left for the next step.
async function freshStep() {
  const left = 30_000 - (Date.now() % 30_000);
  if (left < 5_000) await new Promise((resolve) => setTimeout(resolve, left + 250));
}

try {
  await step('page', async () => {
    await page.goto(pageUrl);
    await page.locator('body[data-ready="true"]').waitFor();
    await expectSignedOut();
  });

  const description = await page.evaluate(async () => {
    const config = await (await fetch('config.json')).json();
    return (await fetch(`${config.base_path}/openapi.json`)).json();
  });
  const passkeys = Object.keys(description.paths).some((path) => path.startsWith('/passkey/'));
  const mfa = Boolean(description.paths['/totp/setup/']);

  await step('sign-up', async () => {
    await page.fill('#signup-email', EMAIL);
    await page.fill('#signup-password', PASSWORD);
    await page.click('#signup-button');
    await page.locator('#signup-confirm-form').waitFor({ state: 'visible' });
    await page.fill('#signup-code', await codeFor(EMAIL));
    await page.click('#signup-confirm-button');
    await expectSignedIn('signup');
  });

  await step('decoded-token', async () => {
    await expectText('#token-badge', 'not verified');
    const token = await claims();
    const header = JSON.parse(await text('#token-header'));
    if (token.type !== 'access' || token.sub !== (await text('#user-id'))) {
      throw new Error(`the decoded claims are not this user's access token: ${JSON.stringify(token)}`);
    }
    if (!header.alg) throw new Error(`the decoded header has no alg: ${JSON.stringify(header)}`);
    // The picture the README shows (infra/demo/screenshot.png is a copy): the top of the
    // page, signed in.
    const card = await page.locator('#session-card').boundingBox();
    await page.screenshot({ path: join(shots, 'signed-in.png'), clip: { x: 0, y: 0, width: 1180, height: Math.ceil(card.y + card.height + 24) } });
  });

  await step('log-out', logOut);

  await step('wrong-password', async () => {
    await page.fill('#login-email', EMAIL);
    await page.fill('#login-password', 'Not-The-Password-1');
    await page.click('#login-button');
    await expectError('authentication_failed');
    await expectSignedOut();
  });

  await step('log-in-password', async () => {
    await page.fill('#login-email', EMAIL);
    await page.fill('#login-password', PASSWORD);
    await page.click('#login-button');
    await expectSignedIn('password');
  });

  await step('refresh', async () => {
    const before = await claims();
    await page.click('#refresh-button');
    await expectText('#message', 'Refreshed');
    const after = await claims();
    if (after.jti === before.jti) throw new Error('refresh kept the same access token');
  });

  await step('reload-keeps-session', async () => {
    await page.reload();
    await page.locator('body[data-ready="true"]').waitFor();
    await expectSignedIn('password');
  });

  await step('log-out-again', logOut);

  await step('log-in-code', async () => {
    await page.fill('#code-email', EMAIL);
    await page.click('#code-send-button');
    await page.locator('#code-confirm-form').waitFor({ state: 'visible' });
    await page.fill('#code-otp', await codeFor(EMAIL));
    await page.click('#code-confirm-button');
    await expectSignedIn('code');
  });

  if (mfa) {
    await totpSteps();
  } else {
    say({ skipped: 'two-step sign-in steps', why: 'the server describes no totp/ routes' });
  }

  if (!passkeys) {
    await step('passkeys-off', async () => {
      await expectText('#passkey-status', 'not enabled');
      if (!(await page.locator('#passkey-login-button').isDisabled())) throw new Error('the passkey button is enabled');
    });
    say({ skipped: 'passkey steps', why: 'the server describes no passkey/ routes' });
  } else {
    await passkeySteps();
  }

  await step('wallet', async () => {
    if (await page.locator('#session').isVisible()) await logOut();
    await page.click('#wallet-button');
    await page.locator('#session').waitFor({ state: 'visible' });
    await expectText('#signed-in-by', 'wallet');
    const shown = await text('#user-wallet');
    if (shown.toLowerCase() !== String(walletAddress).toLowerCase()) throw new Error(`signed in as ${shown}, not the wallet ${walletAddress}`);
  });

  say({ done: true });
} catch (error) {
  await page.screenshot({ path: join(shots, 'failed.png'), fullPage: true }).catch(() => {});
  console.error(`demo.mjs: ${error.stack || error}`);
  const message = await text('#message').catch(() => '');
  if (message) console.error(`the page's message: ${message}`);
  await browser.close();
  process.exit(1);
}
await browser.close();
// Its input open would keep Node waiting for another line.
reader.close();
process.stdin.destroy();

// Signed in (by code): two-step sign-in set up from the QR code's secret, turned on, the
// backup codes shown; a password sign-in then asks for the code; off again with a backup
// code, so that the steps after these sign in as before.
async function totpSteps() {
  let secret = null;
  let backupCodes = [];

  await step('totp-set-up', async () => {
    await page.locator('#mfa-card').waitFor({ state: 'visible' });
    await expectText('#mfa-status', 'Off');
    await page.click('#mfa-setup-button');
    const qr = page.locator('#mfa-qr svg');
    await qr.waitFor({ state: 'visible' });
    const box = await qr.boundingBox();
    if (!box || box.width < 100 || box.height < 100) throw new Error(`the QR code is not shown whole: ${JSON.stringify(box)}`);
    if (!(await qr.locator('path').getAttribute('d'))) throw new Error('the QR code has no modules');
    secret = (await text('#mfa-secret')).trim();
    if (!/^[A-Z2-7]{16,}=*$/.test(secret)) throw new Error(`the page shows no base32 secret: ${JSON.stringify(secret)}`);
  });

  await step('totp-confirm', async () => {
    await freshStep();
    await page.fill('#mfa-confirm-code', totp(secret));
    await page.click('#mfa-confirm-button');
    await expectText('#message', 'Two-step sign-in is on');
    await page.waitForFunction(() => document.querySelectorAll('#mfa-backup-codes li').length === 10);
    backupCodes = (await page.locator('#mfa-backup-codes li').allInnerTexts()).map((c) => c.trim());
    if (new Set(backupCodes).size !== 10 || !backupCodes.every((c) => /^[a-z0-9]{5}-[a-z0-9]{5}$/.test(c))) {
      throw new Error(`not ten backup codes: ${JSON.stringify(backupCodes)}`);
    }
    await expectText('#mfa-status', '10 backup codes left');
    if (await page.locator('#mfa-qr svg').count()) throw new Error('the QR code is still shown once on');
    // The session that turned it on goes on.
    await expectSignedIn('code');
  });

  await step('totp-log-out', logOut);

  await step('totp-log-in-password', async () => {
    await page.fill('#login-email', EMAIL);
    await page.fill('#login-password', PASSWORD);
    await page.click('#login-button');
    await page.locator('#mfa-verify-form').waitFor({ state: 'visible' });
    await expectSignedOut();
    // A code far from now is refused, and the page keeps asking.
    await page.fill('#mfa-verify-code', totp(secret, Date.now() + 300_000));
    await page.click('#mfa-verify-button');
    await expectError('mfa_code_invalid');
    await page.locator('#mfa-verify-form').waitFor({ state: 'visible' });
    // The step confirm used signs in no more: the next step's code (one step of drift).
    await freshStep();
    await page.fill('#mfa-verify-code', totp(secret, Date.now() + 30_000));
    await page.click('#mfa-verify-button');
    await expectSignedIn('password');
    if (await page.locator('#mfa-verify-form').isVisible()) throw new Error('the code prompt is still shown');
    await expectText('#mfa-status', 'On');
  });

  await step('totp-off-with-backup-code', async () => {
    await page.fill('#mfa-disable-code', backupCodes[0]);
    await page.click('#mfa-disable-button');
    await expectText('#mfa-status', 'Off');
    await page.locator('#mfa-setup-button').waitFor({ state: 'visible' });
    await expectSignedIn('password');
  });
}

async function passkeySteps() {
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const authenticator = async () => (await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  })).authenticatorId;
  const credentials = async (authenticatorId) => (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials;
  const rows = () => page.locator('#passkey-list tbody tr');

  const laptop = await authenticator();

  await step('passkey-register', async () => {
    await page.fill('#passkey-name', 'Laptop');
    await page.click('#passkey-register-button');
    await expectText('#message', 'added');
    await page.waitForFunction(() => document.querySelectorAll('#passkey-list tbody tr').length === 1);
    if ((await credentials(laptop)).length !== 1) throw new Error('the authenticator holds no passkey');
  });

  // Signed out, the page asks for a passkey by autofill (conditional mediation); the virtual
  // authenticator answers such a request at once, as a person picking it would.
  await step('passkey-autofill', async () => {
    await page.click('#logout-button');
    await expectSignedIn('passkey (autofill)');
  });

  // From here on the page sees a browser without autofill, so that a sign-in waits for
  // the button.
  await page.evaluate(() => {
    PublicKeyCredential.isConditionalMediationAvailable = async () => false;
  });

  await step('passkey-button', async () => {
    await logOut();
    await page.click('#passkey-login-button');
    await expectSignedIn('passkey');
  });

  await step('passkey-email', async () => {
    await logOut();
    await page.fill('#passkey-email', EMAIL);
    await page.click('#passkey-email-button');
    await expectSignedIn('passkey (email)');
  });

  await step('passkey-rename', async () => {
    const row = rows().first();
    await row.locator('.passkey-rename-name').fill('Work laptop');
    await row.locator('.passkey-rename').click();
    await expectText('#message', 'Renamed');
    // The list is read again from the server after a rename.
    await page.waitForFunction(() => document.querySelector('#passkey-list tbody tr .passkey-rename-name')?.value === 'Work laptop');
  });

  // An authenticator that never counts (its signature counter stays 0, as many synced
  // passkeys do) keeps signing in. Only it is present while it registers and signs.
  const [laptopKey] = await credentials(laptop);
  await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: laptop });
  const zero = await authenticator();
  await step('passkey-register-second', async () => {
    await zeroCounterAtCreation();
    await page.fill('#passkey-name', 'Zero counter');
    await page.click('#passkey-register-button');
    await expectText('#message', 'added');
    await page.waitForFunction(() => document.querySelectorAll('#passkey-list tbody tr').length === 2);
  });
  const [zeroKey] = await credentials(zero);
  for (const round of [1, 2]) {
    await step(`passkey-zero-counter-${round}`, async () => {
      // Chromium adds one to the counter before it signs: -1 makes it report 0 again.
      await cdp.send('WebAuthn.clearCredentials', { authenticatorId: zero });
      await cdp.send('WebAuthn.addCredential', { authenticatorId: zero, credential: { ...zeroKey, signCount: -1 } });
      await logOut();
      await page.click('#passkey-login-button');
      await expectSignedIn('passkey');
    });
  }
  await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: zero });
  const laptopAgain = await authenticator();
  await cdp.send('WebAuthn.addCredential', { authenticatorId: laptopAgain, credential: laptopKey });

  await step('passkey-delete', async () => {
    const id = await rows().evaluateAll((all) => all.find((r) => r.querySelector('.passkey-rename-name').value === 'Work laptop')?.dataset.id);
    if (!id) throw new Error('no passkey named "Work laptop" in the list');
    await page.locator(`#passkey-list tbody tr[data-id="${id}"] .passkey-delete`).click();
    await expectText('#message', 'deleted');
    await page.waitForFunction(() => document.querySelectorAll('#passkey-list tbody tr').length === 1);
  });

  await step('passkey-deleted-refused', async () => {
    await logOut();
    await page.click('#passkey-login-button');
    await page.locator('#message[data-kind="error"]').waitFor();
    await expectSignedOut();
  });
}

// Chromium's virtual authenticator says counter 1 at creation, where one that never counts
// says 0. Its attestation is "none", which signs nothing, so the page's next credential is
// handed over with the counter zeroed: exactly what such an authenticator would send.
async function zeroCounterAtCreation() {
  await page.evaluate(() => {
    const original = navigator.credentials.create.bind(navigator.credentials);
    const toBase64url = (bytes) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    navigator.credentials.create = async (options) => {
      navigator.credentials.create = original;
      const credential = await original(options);
      const authData = new Uint8Array(credential.response.getAuthenticatorData());
      const object = new Uint8Array(credential.response.attestationObject);
      // CBOR: "fmt" then the text "none".
      const none = [0x63, 0x66, 0x6d, 0x74, 0x64, 0x6e, 0x6f, 0x6e, 0x65];
      const isNone = object.some((_, i) => none.every((b, j) => object[i + j] === b));
      if (!isNone) throw new Error('the attestation is not "none": its counter cannot be rewritten');
      const at = object.findIndex((_, i) => authData.subarray(0, 37).every((b, j) => object[i + j] === b));
      if (at < 0) throw new Error('no authenticator data in the attestation object');
      object.fill(0, at + 33, at + 37);
      authData.fill(0, 33, 37);
      const json = credential.toJSON();
      json.response.attestationObject = toBase64url(object);
      json.response.authenticatorData = toBase64url(authData);
      Object.defineProperty(credential, 'toJSON', { value: () => json });
      return credential;
    };
  });
}
