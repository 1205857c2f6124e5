// The BlockAuth demo: every flow through the public API at this origin, with no library and
// no build step. Tokens live in this tab only (sessionStorage), never in a cookie or a URL.

const $ = (id) => document.getElementById(id);
const STORE = 'blockauth-demo';

const state = {
  base: '/auth',
  // The API's paths (`/signup/`, ...) from its OpenAPI description; null: unknown.
  paths: null,
  access: null,
  refresh: null,
  user: null,
  method: null,
  // `totp/status/` of the signed-in account: {enabled, backup_codes_left}; null: unknown.
  mfa: null,
};

// ---- talking to the API -------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, body, retryAfter) {
    super(describe(status, body, retryAfter));
    this.status = status;
    this.body = body;
  }
}

// An error answer as a person reads it: DRF's `{detail, code}`, or its field errors.
function describe(status, body, retryAfter) {
  let text;
  if (body && typeof body === 'object' && typeof body.detail === 'string') {
    text = body.code ? `${body.detail} (${body.code})` : body.detail;
  } else if (body && typeof body === 'object' && Object.keys(body).length) {
    text = Object.entries(body)
      .map(([field, problems]) => `${field}: ${[].concat(problems).join(' ')}`)
      .join('; ');
  } else {
    text = status ? `HTTP ${status}` : 'The server did not answer.';
  }
  if (retryAfter) text += ` Try again in ${retryAfter} s.`;
  return status ? `${status}: ${text}` : text;
}

async function api(method, path, body, { auth = false } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (auth && state.access) headers.Authorization = `Bearer ${state.access}`;
  const url = `${state.base}/${path}`;
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    log(method, url, 0, e.message);
    throw new ApiError(0, null);
  }
  const text = await response.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = { detail: text.slice(0, 200) };
  }
  const error = response.ok ? null : new ApiError(response.status, parsed, response.headers.get('Retry-After'));
  log(method, url, response.status, error && error.message);
  if (error) throw error;
  return parsed;
}

function log(method, url, status, problem) {
  const item = document.createElement('li');
  item.className = status >= 200 && status < 300 ? 'ok' : 'error';
  const time = new Date().toLocaleTimeString();
  item.textContent = `${time}  ${method} ${url} → ${status || 'no answer'}${problem ? `  ${problem}` : ''}`;
  $('log').prepend(item);
}

function show(text, kind = 'ok') {
  const box = $('message');
  box.textContent = text;
  box.dataset.kind = kind;
  box.hidden = false;
}

// Runs a button's action: the button waits, and any failure is shown as the API said it.
function action(button, work) {
  return async (event) => {
    if (event) event.preventDefault();
    const target = typeof button === 'string' ? $(button) : button;
    target.disabled = true;
    target.setAttribute('aria-busy', 'true');
    try {
      await work(event);
    } catch (e) {
      show(e.message || String(e), 'error');
    } finally {
      target.disabled = false;
      target.removeAttribute('aria-busy');
      render();
    }
  };
}

const has = (path) => state.paths === null || state.paths.has(`/${path}`);

// ---- the session --------------------------------------------------------------------------

function signedIn(answer, method) {
  // An account with two-step sign-in on: the first step was right, the code comes next.
  if (answer && answer.mfa_required) {
    askSecondStep(answer.mfa_token, method);
    return;
  }
  secondStep = null;
  state.access = answer.access;
  state.refresh = answer.refresh;
  state.user = answer.user;
  state.method = method;
  save();
  stopConditional();
  render();
  show(`Signed in as ${label(answer.user)} (${method}).`);
  if (passkeysOn()) listPasskeys().catch((e) => show(e.message, 'error'));
  if (mfaOn()) mfaStatus().catch((e) => show(e.message, 'error'));
}

function signedOut() {
  state.access = state.refresh = state.user = state.method = null;
  state.mfa = null;
  forgetMfaSecrets();
  save();
  render();
  startConditional();
}

function save() {
  if (state.access) {
    const { access, refresh, user, method } = state;
    sessionStorage.setItem(STORE, JSON.stringify({ access, refresh, user, method }));
  } else {
    sessionStorage.removeItem(STORE);
  }
}

function restore() {
  try {
    const kept = JSON.parse(sessionStorage.getItem(STORE) || 'null');
    if (kept && typeof kept.access === 'string') Object.assign(state, kept);
  } catch {
    sessionStorage.removeItem(STORE);
  }
}

const label = (user) => (user && (user.email || user.phone || user.wallet_address || user.id)) || 'someone';

function base64urlToBytes(text) {
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/');
  const binary = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

function bytesToBase64url(buffer) {
  const bytes = new Uint8Array(buffer instanceof ArrayBuffer ? buffer : buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength));
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

// A JWT's header and claims, read without checking its signature: only the server can.
function decodeJwt(token) {
  const parts = String(token).split('.');
  if (parts.length !== 3) throw new Error('not a JWT');
  const json = (part) => JSON.parse(new TextDecoder().decode(base64urlToBytes(part)));
  return { header: json(parts[0]), claims: json(parts[1]) };
}

function render() {
  const inside = Boolean(state.access);
  $('session').hidden = !inside;
  $('signed-out-note').hidden = inside;
  $('refresh-button').disabled = !inside || !has('token/refresh/');
  $('logout-button').disabled = !inside;
  $('passkey-manage').hidden = !(inside && passkeysOn() && !passkeysMissing);
  passkeyStatus();
  renderMfa(inside);
  if (!inside) return;
  const user = state.user || {};
  $('user-email').textContent = user.email || '—';
  $('user-phone').textContent = user.phone || '—';
  $('user-wallet').textContent = user.wallet_address || '—';
  $('user-id').textContent = user.id || '—';
  $('user-methods').textContent = (user.authentication_types || []).join(', ') || '—';
  $('signed-in-by').textContent = state.method || '—';
  $('user-json').textContent = JSON.stringify(user, null, 2);
  try {
    const { header, claims } = decodeJwt(state.access);
    $('token-header').textContent = JSON.stringify(header, null, 2);
    $('token-claims').textContent = JSON.stringify(claims, null, 2);
    const when = (s) => (typeof s === 'number' ? new Date(s * 1000).toLocaleString() : '?');
    $('token-times').textContent = `Issued ${when(claims.iat)}, expires ${when(claims.exp)}. jti ${claims.jti || '?'}`;
  } catch (e) {
    $('token-header').textContent = '';
    $('token-claims').textContent = `This access token cannot be decoded: ${e.message}`;
    $('token-times').textContent = '';
  }
}

// ---- sign up, password, code --------------------------------------------------------------

function wireForms() {
  $('signup-form').addEventListener('submit', action('signup-button', async () => {
    const email = $('signup-email').value.trim();
    const answer = await api('POST', 'signup/', { email, password: $('signup-password').value });
    $('signup-sent-to').textContent = email;
    $('signup-confirm-form').hidden = false;
    $('signup-code').focus();
    show(answer && answer.message ? answer.message : 'Code sent.');
  }));

  $('signup-confirm-form').addEventListener('submit', action('signup-confirm-button', async () => {
    // The password again: with it, only the person who chose it can own the account.
    const answer = await api('POST', 'signup/confirm/', {
      email: $('signup-email').value.trim(),
      otp: $('signup-code').value.trim(),
      password: $('signup-password').value,
    });
    $('signup-confirm-form').hidden = true;
    $('signup-form').reset();
    $('signup-confirm-form').reset();
    signedIn(answer, 'signup');
  }));

  $('login-form').addEventListener('submit', action('login-button', async () => {
    const answer = await api('POST', 'login/basic/', {
      email: $('login-email').value.trim(),
      password: $('login-password').value,
    });
    $('login-password').value = '';
    signedIn(answer, 'password');
  }));

  $('code-form').addEventListener('submit', action('code-send-button', async () => {
    const email = $('code-email').value.trim();
    const answer = await api('POST', 'login/passwordless/', { email });
    $('code-sent-to').textContent = email;
    $('code-confirm-form').hidden = false;
    $('code-otp').focus();
    show(answer && answer.message ? answer.message : 'Code sent.');
  }));

  $('code-confirm-form').addEventListener('submit', action('code-confirm-button', async () => {
    const answer = await api('POST', 'login/passwordless/confirm/', {
      email: $('code-email').value.trim(),
      otp: $('code-otp').value.trim(),
    });
    $('code-confirm-form').hidden = true;
    $('code-confirm-form').reset();
    signedIn(answer, 'code');
  }));

  $('refresh-button').addEventListener('click', action('refresh-button', async () => {
    const before = state.access;
    const answer = await api('POST', 'token/refresh/', { refresh: state.refresh });
    state.access = answer.access;
    // Without rotation the answer has no new refresh token: keep the old one.
    state.refresh = answer.refresh || state.refresh;
    if (answer.user) state.user = answer.user;
    save();
    show(answer.access === before ? 'Refreshed (the same access token).' : 'Refreshed: a new access token.');
  }));

  $('logout-button').addEventListener('click', action('logout-button', async () => {
    const refresh = state.refresh;
    const revoke = Boolean(refresh) && has('token/revoke/');
    try {
      if (revoke) await api('POST', 'token/revoke/', { refresh });
    } finally {
      // Forgotten here whatever the server said: a failed revoke must not keep anyone in.
      signedOut();
    }
    show(revoke ? 'Logged out: this sign-in\'s tokens are revoked.' : 'Logged out (tokens forgotten in this tab).');
  }));

  $('log-clear').addEventListener('click', () => $('log').replaceChildren());
}

// ---- two-step sign-in (TOTP) ---------------------------------------------------------------

const mfaOn = () => Boolean(state.paths && state.paths.has('/totp/setup/'));

// A sign-in that answered `mfa_required`: its single-use token and how it began. In memory
// only: a reload starts the sign-in again.
let secondStep = null;

function askSecondStep(token, method) {
  secondStep = { token, method };
  render();
  show('Almost there: enter the code your authenticator app shows (or a backup code).');
  $('mfa-verify-code').focus();
}

async function mfaStatus() {
  state.mfa = await api('GET', 'totp/status/', undefined, { auth: true });
  render();
}

// The secret, its QR code and the backup codes stay on screen only as long as needed.
function forgetMfaSecrets() {
  $('mfa-qr').replaceChildren();
  $('mfa-secret').textContent = '';
  $('mfa-setup').hidden = true;
  $('mfa-backup-codes').replaceChildren();
  $('mfa-backup').hidden = true;
}

function renderMfa(inside) {
  $('mfa-verify-form').hidden = inside || !secondStep;
  $('mfa-card').hidden = !inside || !mfaOn();
  const status = state.mfa;
  const enabled = Boolean(status && status.enabled);
  if (!status) {
    $('mfa-status').textContent = '';
  } else if (enabled) {
    const left = status.backup_codes_left;
    $('mfa-status').textContent = `On · ${left} backup code${left === 1 ? '' : 's'} left`;
  } else {
    $('mfa-status').textContent = 'Off';
  }
  $('mfa-card').dataset.enabled = status ? String(enabled) : '';
  $('mfa-setup-button').hidden = !status || enabled;
  $('mfa-disable-form').hidden = !enabled;
}

// The QR code of `totp/setup/` is an SVG document as text. It is parsed as XML (never as
// HTML) and copied element by element from a short list (the svg, its rect and path) with
// only their geometry and colours: whatever the text held, no script, handler, link or
// style reaches the page. So it needs nothing from the CSP: no inline style, no data: URL.
const SVG = 'http://www.w3.org/2000/svg';
const SVG_ALLOWED = {
  svg: ['width', 'height', 'viewBox', 'shape-rendering'],
  g: ['fill'],
  rect: ['x', 'y', 'width', 'height', 'fill'],
  path: ['d', 'fill'],
};

function qrCode(text) {
  const parsed = new DOMParser().parseFromString(text, 'image/svg+xml');
  const root = parsed.documentElement;
  if (parsed.getElementsByTagName('parsererror').length || root.namespaceURI !== SVG || root.localName !== 'svg') {
    throw new Error('The QR code is not an SVG image.');
  }
  const copy = (node) => {
    const allowed = node.namespaceURI === SVG && SVG_ALLOWED[node.localName];
    if (!allowed) return null;
    const element = document.createElementNS(SVG, node.localName);
    for (const name of allowed) {
      const value = node.getAttribute(name);
      if (value !== null && !/url\s*\(/i.test(value)) element.setAttribute(name, value);
    }
    for (const child of node.children) {
      const kept = copy(child);
      if (kept) element.append(kept);
    }
    return element;
  };
  const svg = copy(root);
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', 'QR code for your authenticator app');
  return svg;
}

function wireMfa() {
  $('mfa-verify-form').addEventListener('submit', action('mfa-verify-button', async () => {
    const pending = secondStep;
    if (!pending) throw new Error('Sign in again: no sign-in is waiting for a code.');
    let answer;
    try {
      answer = await api('POST', 'totp/verify/', { mfa_token: pending.token, code: $('mfa-verify-code').value.trim() });
    } catch (e) {
      // Used, expired or tried too often: this sign-in is over, the next one starts afresh.
      if (e.status === 401) secondStep = null;
      throw e;
    }
    $('mfa-verify-form').reset();
    signedIn(answer, pending.method);
  }));

  $('mfa-verify-cancel').addEventListener('click', () => {
    secondStep = null;
    $('mfa-verify-form').reset();
    render();
  });

  $('mfa-setup-button').addEventListener('click', action('mfa-setup-button', async () => {
    const answer = await api('POST', 'totp/setup/', undefined, { auth: true });
    forgetMfaSecrets();
    $('mfa-qr').append(qrCode(answer.qr_svg));
    $('mfa-secret').textContent = answer.secret;
    $('mfa-setup').hidden = false;
    $('mfa-confirm-code').focus();
    show('Scan the QR code, then enter the code your app shows to turn two-step sign-in on.');
  }));

  $('mfa-confirm-form').addEventListener('submit', action('mfa-confirm-button', async () => {
    const answer = await api('POST', 'totp/confirm/', { code: $('mfa-confirm-code').value.trim() }, { auth: true });
    $('mfa-confirm-form').reset();
    forgetMfaSecrets();
    $('mfa-backup-codes').replaceChildren(...(answer.backup_codes || []).map((code) => {
      const item = document.createElement('li');
      const text = document.createElement('code');
      text.textContent = code;
      item.append(text);
      return item;
    }));
    $('mfa-backup').hidden = false;
    await mfaStatus();
    show('Two-step sign-in is on. Every other session of this account has ended; this one goes on.');
  }));

  $('mfa-disable-form').addEventListener('submit', action('mfa-disable-button', async () => {
    const answer = await api('POST', 'totp/disable/', { code: $('mfa-disable-code').value.trim() }, { auth: true });
    $('mfa-disable-form').reset();
    forgetMfaSecrets();
    await mfaStatus();
    show(answer && answer.message ? answer.message : 'Two-step sign-in is off.');
  }));
}

// ---- passkeys ------------------------------------------------------------------------------

const passkeysOn = () => Boolean(state.paths && state.paths.has('/passkey/auth/options/'));
let passkeysMissing = false;

function passkeyStatus() {
  const status = $('passkey-status');
  const off = !passkeysOn() || passkeysMissing;
  if (off) {
    status.textContent = 'Passkeys are not enabled on this server.';
  } else if (!window.PublicKeyCredential) {
    status.textContent = 'This browser cannot use passkeys.';
  } else {
    status.textContent = 'Sign in with a passkey, or add one once signed in.';
  }
  status.dataset.enabled = String(!off && Boolean(window.PublicKeyCredential));
  const usable = status.dataset.enabled === 'true';
  $('passkey-login-button').disabled = !usable;
  $('passkey-email-button').disabled = !usable;
  $('passkey-card').classList.toggle('off', !usable);
}

// A passkey route that is not there: the feature is off, whatever the description said.
async function passkeyApi(method, path, body, options) {
  try {
    return await api(method, path, body, options);
  } catch (e) {
    if (e.status === 404 && !path.startsWith('passkey/credentials/')) {
      passkeysMissing = true;
      passkeyStatus();
      throw new Error('Passkeys are not enabled on this server.');
    }
    throw e;
  }
}

// webauthn-rs gives options as JSON (binary fields in base64url); nulls are dropped, since
// the browser's parser reads an absent member, not a null one.
function withoutNulls(value) {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).filter(([, v]) => v !== null).map(([k, v]) => [k, withoutNulls(v)]),
    );
  }
  return value;
}

function creationOptions(json) {
  const options = withoutNulls(json);
  if (PublicKeyCredential.parseCreationOptionsFromJSON) {
    return PublicKeyCredential.parseCreationOptionsFromJSON(options);
  }
  return {
    ...options,
    challenge: base64urlToBytes(options.challenge),
    user: { ...options.user, id: base64urlToBytes(options.user.id) },
    excludeCredentials: (options.excludeCredentials || []).map((c) => ({ ...c, id: base64urlToBytes(c.id) })),
  };
}

function requestOptions(json) {
  const options = withoutNulls(json);
  if (PublicKeyCredential.parseRequestOptionsFromJSON) {
    return PublicKeyCredential.parseRequestOptionsFromJSON(options);
  }
  return {
    ...options,
    challenge: base64urlToBytes(options.challenge),
    allowCredentials: (options.allowCredentials || []).map((c) => ({ ...c, id: base64urlToBytes(c.id) })),
  };
}

// The credential as `PublicKeyCredential.toJSON()` gives it, built by hand where the
// browser is older than that method.
function credentialJSON(credential) {
  if (typeof credential.toJSON === 'function') return credential.toJSON();
  const r = credential.response;
  const response = { clientDataJSON: bytesToBase64url(r.clientDataJSON) };
  if (r.attestationObject) {
    response.attestationObject = bytesToBase64url(r.attestationObject);
    response.transports = typeof r.getTransports === 'function' ? r.getTransports() : [];
  } else {
    response.authenticatorData = bytesToBase64url(r.authenticatorData);
    response.signature = bytesToBase64url(r.signature);
    if (r.userHandle) response.userHandle = bytesToBase64url(r.userHandle);
  }
  return {
    id: credential.id,
    rawId: bytesToBase64url(credential.rawId),
    type: credential.type,
    authenticatorAttachment: credential.authenticatorAttachment || undefined,
    response,
    clientExtensionResults: credential.getClientExtensionResults(),
  };
}

// The autofill request on the email field (conditional mediation), while signed out.
let conditional = null;

async function startConditional() {
  if (conditional || state.access || !passkeysOn() || passkeysMissing || !window.PublicKeyCredential) return;
  if (!PublicKeyCredential.isConditionalMediationAvailable) return;
  if (!(await PublicKeyCredential.isConditionalMediationAvailable())) return;
  const controller = new AbortController();
  const running = (async () => {
    // Asked for on every load: a refusal (say 429) is in the request log, not in the way.
    const answer = await passkeyApi('POST', 'passkey/auth/options/', {}).catch(() => null);
    if (!answer) throw new DOMException('no autofill', 'AbortError');
    const credential = await navigator.credentials.get({
      publicKey: requestOptions(answer.publicKey),
      mediation: 'conditional',
      signal: controller.signal,
    });
    const tokens = await passkeyApi('POST', 'passkey/auth/verify/', { credential: credentialJSON(credential) });
    conditional = null;
    signedIn(tokens, 'passkey (autofill)');
  })().catch((e) => {
    if (conditional && conditional.controller === controller) conditional = null;
    if (e.name !== 'AbortError' && e.name !== 'NotAllowedError') show(e.message, 'error');
  });
  conditional = { controller, running };
}

// A browser runs one WebAuthn request at a time: the autofill one ends before another.
async function stopConditional() {
  const pending = conditional;
  conditional = null;
  if (!pending) return;
  pending.controller.abort();
  await pending.running;
}

async function passkeySignIn(email) {
  await stopConditional();
  try {
    const answer = await passkeyApi('POST', 'passkey/auth/options/', email ? { email } : {});
    const credential = await navigator.credentials.get({ publicKey: requestOptions(answer.publicKey) });
    const tokens = await passkeyApi('POST', 'passkey/auth/verify/', { credential: credentialJSON(credential) });
    signedIn(tokens, email ? 'passkey (email)' : 'passkey');
  } catch (e) {
    if (!state.access) startConditional();
    throw e;
  }
}

async function registerPasskey() {
  const answer = await passkeyApi('POST', 'passkey/register/options/', {}, { auth: true });
  const credential = await navigator.credentials.create({ publicKey: creationOptions(answer.publicKey) });
  const name = $('passkey-name').value.trim();
  const body = { credential: credentialJSON(credential) };
  if (name) body.name = name;
  const saved = await passkeyApi('POST', 'passkey/register/verify/', body, { auth: true });
  $('passkey-name').value = '';
  show(`Passkey "${(saved && saved.name) || name || 'passkey'}" added.`);
  await listPasskeys();
}

const when = (text) => (text ? new Date(text).toLocaleString() : '—');

async function listPasskeys() {
  const answer = await passkeyApi('GET', 'passkey/credentials/', undefined, { auth: true });
  const credentials = (answer && answer.credentials) || [];
  $('passkey-count').textContent = `(${answer && typeof answer.count === 'number' ? answer.count : credentials.length})`;
  const rows = credentials.map((c) => {
    const row = document.createElement('tr');
    row.dataset.id = c.id;
    const name = document.createElement('input');
    name.value = c.name || '';
    name.className = 'passkey-rename-name';
    name.maxLength = 64;
    name.setAttribute('aria-label', 'Passkey name');
    const rename = button('Rename', 'passkey-rename secondary small', async () => {
      await passkeyApi('PATCH', `passkey/credentials/${encodeURIComponent(c.id)}/`, { name: name.value.trim() }, { auth: true });
      show(`Renamed to "${name.value.trim()}".`);
      await listPasskeys();
    });
    const remove = button('Delete', 'passkey-delete danger small', async () => {
      await passkeyApi('DELETE', `passkey/credentials/${encodeURIComponent(c.id)}/`, undefined, { auth: true });
      show('Passkey deleted.');
      await listPasskeys();
    });
    const synced = c.backup_eligible ? (c.backup_state ? 'yes' : 'can be') : 'no';
    row.append(
      cell(name),
      cell(when(c.created_at)),
      cell(when(c.last_used_at)),
      cell(synced),
      cell(rename, remove),
    );
    return row;
  });
  $('passkey-list').tBodies[0].replaceChildren(...rows);
  $('passkey-list').dataset.count = String(credentials.length);
}

function button(text, className, work) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = text;
  b.className = className;
  b.addEventListener('click', action(b, work));
  return b;
}

function cell(...content) {
  const td = document.createElement('td');
  td.append(...content);
  return td;
}

function wirePasskeys() {
  $('passkey-login-button').addEventListener('click', action('passkey-login-button', () => passkeySignIn(null)));
  $('passkey-email-form').addEventListener('submit', action('passkey-email-button', () => passkeySignIn($('passkey-email').value.trim())));
  $('passkey-register-form').addEventListener('submit', action('passkey-register-button', registerPasskey));
}

// ---- wallet and social ---------------------------------------------------------------------

function utf8Hex(text) {
  return `0x${Array.from(new TextEncoder().encode(text), (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

function wireWallet() {
  const status = $('wallet-status');
  if (!has('login/wallet/')) {
    status.textContent = 'Wallet sign-in is not enabled on this server.';
    return;
  }
  if (!window.ethereum) {
    status.textContent = 'No Ethereum wallet in this browser (window.ethereum). With one, this signs in by Sign-In with Ethereum.';
    return;
  }
  status.textContent = 'Your wallet signs a message from the server; nothing is sent on chain.';
  $('wallet-button').hidden = false;
  $('wallet-button').addEventListener('click', action('wallet-button', async () => {
    const [address] = await window.ethereum.request({ method: 'eth_requestAccounts' });
    if (!address) throw new Error('The wallet shared no account.');
    const chain = Number.parseInt(await window.ethereum.request({ method: 'eth_chainId' }), 16);
    const challenge = await api('POST', 'login/wallet/challenge/', Number.isSafeInteger(chain) ? { address, chain_id: chain } : { address });
    // personal_sign (EIP-191) of the message exactly as the server wrote it.
    const signature = await window.ethereum.request({ method: 'personal_sign', params: [utf8Hex(challenge.message), address] });
    signedIn(await api('POST', 'login/wallet/', { message: challenge.message, signature }), 'wallet');
  }));
}

// Providers come from the description: its `{provider}` parameter lists the configured ones.
function providers(description) {
  const names = new Set();
  for (const [path, item] of Object.entries((description && description.paths) || {})) {
    if (!path.includes('{provider}')) continue;
    for (const operation of Object.values(item)) {
      for (const parameter of (operation && operation.parameters) || []) {
        if (parameter.name === 'provider') for (const name of (parameter.schema && parameter.schema.enum) || []) names.add(name);
      }
    }
  }
  return [...names].sort();
}

function wireSocial(description) {
  const names = providers(description);
  const status = $('social-status');
  if (!names.length) {
    status.textContent = 'No social provider is configured (AUTH_PROVIDERS).';
    return;
  }
  status.textContent = 'Goes to the provider and back. With SOCIAL_SUCCESS_REDIRECT set to this page, you come back signed in.';
  $('social-links').replaceChildren(...names.map((name) => {
    const item = document.createElement('li');
    const link = document.createElement('a');
    link.href = `${state.base}/${encodeURIComponent(name)}/`;
    link.id = `social-${name}`;
    link.className = 'provider';
    link.textContent = `Continue with ${name.charAt(0).toUpperCase()}${name.slice(1)}`;
    item.append(link);
    return item;
  }));
}

// Back from a provider (SOCIAL_SUCCESS_REDIRECT pointing here): a one-time code, or an error.
async function socialReturn() {
  const query = new URLSearchParams(window.location.search);
  const code = query.get('code');
  const error = query.get('error');
  if (!code && !error) return;
  window.history.replaceState(null, '', window.location.pathname);
  if (error) {
    show(`Social sign-in failed: ${error}`, 'error');
    return;
  }
  try {
    signedIn(await api('POST', 'social/token/', { code }), 'social');
  } catch (e) {
    show(e.message, 'error');
  }
}

// ---- start ---------------------------------------------------------------------------------

async function start() {
  try {
    const config = await (await fetch('config.json')).json();
    if (config && typeof config.base_path === 'string') state.base = config.base_path;
  } catch {
    // The default base path, then.
  }
  let description = null;
  try {
    description = await api('GET', 'openapi.json');
    state.paths = new Set(Object.keys(description.paths || {}));
    $('server-info').textContent = `API at ${window.location.origin}${state.base}/ · ${state.paths.size} routes`;
  } catch (e) {
    $('server-info').textContent = `The API's description could not be read (${e.message}); trying every route.`;
  }
  for (const [card, path] of [['signup-card', 'signup/'], ['login-card', 'login/basic/'], ['code-card', 'login/passwordless/']]) {
    if (!has(path)) {
      $(card).classList.add('off');
      $(card).querySelectorAll('button').forEach((b) => { b.disabled = true; });
      const note = document.createElement('p');
      note.className = 'muted';
      note.textContent = 'Not enabled on this server.';
      $(card).append(note);
    }
  }
  restore();
  wireForms();
  wirePasskeys();
  wireMfa();
  wireWallet();
  wireSocial(description);
  passkeyStatus();
  render();
  await socialReturn();
  if (state.access && passkeysOn()) listPasskeys().catch((e) => show(e.message, 'error'));
  if (state.access && mfaOn()) mfaStatus().catch((e) => show(e.message, 'error'));
  startConditional();
  document.body.dataset.ready = 'true';
}

start();
