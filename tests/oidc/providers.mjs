// Local OpenID Connect providers for the social-login tests (tests/src/oidc.rs starts this).
//
//   node providers.mjs google facebook okta
//
// starts one oauth2-mock-server (9.3.0) per name, each on 127.0.0.1 with a fresh RS256 key,
// and a control server, then prints one line of JSON to stdout:
//   {"control": "http://127.0.0.1:P", "providers": {"google": "http://localhost:P1", ...},
//    "apple_key": {"private_key": PEM (PKCS #8, as Apple's .p8), "key_id", "team_id",
//                  "unknown_private_key": another P-256 key, one Apple does not know}}
// Each provider's URL is its issuer, exactly as it appears in `iss` and in its discovery
// document (oauth2-mock-server names 127.0.0.1 `localhost`). It exits when stdin closes or
// on SIGTERM.
//
// What a test can rely on (read in oauth2-mock-server's source):
// - GET /authorize shows no login page: it redirects (302) at once to redirect_uri with a
//   fresh `code` and the `state` it was given. Only response_type=code; redirect_uri must
//   be an absolute URL; client_id and redirect_uri are never checked, there or later.
// - A `nonce` sent to /authorize is kept for that code and put in the ID token of the
//   first token request with that code (then forgotten); without one, no `nonce` claim.
// - PKCE: code_challenge_method is `S256` or `plain` (the default when a challenge comes
//   without a method); anything else is a 400 at /authorize. The token endpoint checks
//   code_verifier against the code's challenge (400 when it does not match, is not 43-128
//   RFC 7636 characters, or the code had no challenge, as when it was used before), but
//   only when the request carries a code_verifier: a token request without one is not
//   refused. Those 400s are answered as OAuth's {"error": "invalid_grant"} here.
// - The token endpoint accepts any code (even one it never issued; but see code_ttl) and
//   any client: an ID token's `aud` is the client_id of the body (or of HTTP Basic). Its
//   `sub` is "johndoe" unless claims are set; it lasts an hour; `iss` is the issuer.
// - GET /userinfo answers {"sub": "johndoe"} plus the claims set, whatever the token.
//
// A provider named `apple` acts as Sign in with Apple does where it differs:
// - /authorize with response_mode=form_post answers 200 with a page whose form POSTs `code`,
//   `state` and (at a first authorization, see `first_user`) `user` to redirect_uri, instead
//   of the 302.
// - The token endpoint takes only a client secret in the body (client_secret_post) that is
//   an ES256 JWT signed by the key printed at start: header kid = key_id; iss = team_id,
//   sub = client_id, aud = the issuer, iat now, exp later but within six months. Otherwise
//   it answers 400 invalid_client, as Apple does.
//
// The control server (all JSON):
//   POST /providers/<name>  {"claims": {...}, "fault": null | "<fault>"}
//   POST /providers/<name>  {"code_ttl": seconds} how long a code may wait for its exchange
//     (600 by default; 0: every code is late). A code older than that, used before, or
//     with another PKCE verifier is refused with OAuth's 400 {"error": "invalid_grant"}.
//   POST /providers/<name>  {"first_user": {...}} (apple) the `user` the next form_post
//     carries, once, as Apple sends a person's name only at their first authorization.
//     Either key may be left out (that setting stays). The claims go into every later ID
//     token and userinfo answer of that provider, over its defaults. A fault makes every
//     later sign-in fail in one way, until set to null:
//       wrong_audience, wrong_issuer, wrong_nonce  that claim of the ID token is wrong
//       expired        the ID token's exp is ten minutes past (beyond usual clock leeway)
//       bad_signature  the ID token carries the provider's kid but is signed by another
//                      key, one not in the JWKS
//       html           the token endpoint answers 200 with an HTML page
//       down           the token endpoint resets the connection (discovery and JWKS stay up)
//       slow           the token endpoint waits 30 s, then answers as usual
//       discovery_down, jwks_down, userinfo_down
//                      that endpoint resets the connection (the others stay up)
//   GET /providers/<name>/last-authorize
//     The query parameters of the last GET /authorize that provider saw (null before any).
//
// Each provider is an OAuth2Server's service served by a small HTTP server of ours rather
// than by the OAuth2Server's own listener, so that html, down and slow can act on the token
// endpoint's HTTP exchange, which the library's hooks cannot reach.

import { createServer } from "node:http";
import { generateKeyPair, sign, verify } from "node:crypto";
import { promisify } from "node:util";
import { OAuth2Server } from "oauth2-mock-server";

const FAULTS = [
  "wrong_audience",
  "wrong_issuer",
  "wrong_nonce",
  "expired",
  "bad_signature",
  "html",
  "down",
  "slow",
  "discovery_down",
  "jwks_down",
  "userinfo_down",
];

// The faults that take one endpoint other than the token endpoint down.
const DOWN_PATHS = {
  discovery_down: "/.well-known/openid-configuration",
  jwks_down: "/jwks",
  userinfo_down: "/userinfo",
};

const names = process.argv.slice(2);
if (names.length === 0 || new Set(names).size !== names.length) {
  console.error("usage: node providers.mjs NAME... (distinct names)");
  process.exit(2);
}

const providers = new Map();

async function listen(server) {
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  return server.address().port;
}

// The deployer's Sign in with Apple key: Apple holds the public half.
const appleKey = await promisify(generateKeyPair)("ec", { namedCurve: "P-256" });
// A key Apple does not know: a deployer's wrong .p8.
const unknownKey = await promisify(generateKeyPair)("ec", { namedCurve: "P-256" });
const APPLE = { key_id: "TESTKEY123", team_id: "TESTTEAM99" };

// Why Apple would refuse `body`'s client secret, or null (see the top of this file).
function appleClientSecretFault(body, issuer) {
  const secret = body.client_secret;
  if (typeof secret !== "string") return "no client_secret in the body";
  const parts = secret.split(".");
  if (parts.length !== 3) return "the client secret is not a JWT";
  let header, payload;
  try {
    header = JSON.parse(Buffer.from(parts[0], "base64url").toString("utf8"));
    payload = JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8"));
  } catch {
    return "the client secret's header or payload is not JSON";
  }
  const signed = verify("sha256", Buffer.from(`${parts[0]}.${parts[1]}`),
    { key: appleKey.publicKey, dsaEncoding: "ieee-p1363" }, Buffer.from(parts[2], "base64url"));
  const now = Math.floor(Date.now() / 1000);
  if (header.alg !== "ES256" || !signed) return "not signed with the team's key (ES256)";
  if (header.kid !== APPLE.key_id) return "wrong kid";
  if (payload.iss !== APPLE.team_id) return "wrong iss";
  if (payload.sub !== body.client_id) return "sub is not the client_id";
  if (payload.aud !== issuer) return "aud is not the issuer";
  if (!(payload.iat <= now + 60 && payload.exp > now && payload.exp - payload.iat <= 15777000)) {
    return "expired, or valid too long";
  }
  return null;
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

async function startProvider(name) {
  const oauth = new OAuth2Server();
  await oauth.issuer.keys.generate("RS256");
  // The key a bad_signature ID token is signed with: never in the JWKS.
  const { privateKey: rogue } = await promisify(generateKeyPair)("rsa", { modulusLength: 2048 });
  const provider = {
    oauth, claims: {}, fault: null, lastAuthorize: null, firstUser: null, codeTtl: 600,
    // When each code was issued, as a real provider keeps it.
    issued: new Map(),
  };

  oauth.service.on("beforeAuthorizeRedirect", ({ url }) => {
    const code = url.searchParams.get("code");
    if (code !== null) provider.issued.set(code, Date.now());
  });

  oauth.service.on("beforeTokenSigning", (token) => {
    // The library signs the access token, then the ID token, through this hook; only
    // access tokens carry `scope`.
    if ("scope" in token.payload) return;
    const payload = token.payload;
    Object.assign(payload, provider.claims);
    const now = Math.floor(Date.now() / 1000);
    switch (provider.fault) {
      case "wrong_audience":
        payload.aud = "some-other-client";
        break;
      case "wrong_issuer":
        // Shares the issuer as a prefix: caught only by an exact comparison.
        payload.iss = `${oauth.issuer.url}/other`;
        break;
      case "wrong_nonce":
        payload.nonce = "not-the-nonce-that-was-sent";
        break;
      case "expired":
        payload.exp = now - 600;
        payload.iat = now - 4200;
        payload.nbf = now - 4210;
        break;
    }
  });

  oauth.service.on("beforeResponse", (response, req) => {
    const issued = provider.issued.get(req.body.code);
    if (issued !== undefined && Date.now() - issued >= provider.codeTtl * 1000) {
      response.statusCode = 400;
      response.body = { error: "invalid_grant", error_description: "the code expired" };
      return;
    }
    if (name === "apple") {
      const fault = appleClientSecretFault(req.body, oauth.issuer.url);
      if (fault !== null) {
        response.statusCode = 400;
        response.body = { error: "invalid_client", error_description: fault };
        return;
      }
    }
    const idToken = response.body.id_token;
    if (provider.fault !== "bad_signature" || typeof idToken !== "string") return;
    const signed = idToken.split(".").slice(0, 2).join(".");
    const signature = sign("sha256", Buffer.from(signed), rogue).toString("base64url");
    response.body.id_token = `${signed}.${signature}`;
  });

  oauth.service.on("beforeUserinfo", (response) => {
    Object.assign(response.body, provider.claims);
  });

  const handle = oauth.service.requestHandler;
  const http = createServer((req, res) => {
    const url = new URL(req.url, "http://localhost");
    if (DOWN_PATHS[provider.fault] === url.pathname) {
      req.socket.resetAndDestroy();
      return;
    }
    if (req.method === "GET" && url.pathname === "/authorize") {
      provider.lastAuthorize = Object.fromEntries(url.searchParams);
      if (name === "apple" && url.searchParams.get("response_mode") === "form_post") {
        formPost(res, provider);
      }
    }
    if (req.method === "POST" && url.pathname === "/token") {
      oauthErrors(res);
      if (provider.fault === "down") {
        req.socket.resetAndDestroy();
        return;
      }
      if (provider.fault === "html") {
        res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
        res.end("<!DOCTYPE html><html><body><h1>We'll be right back</h1></body></html>");
        return;
      }
      if (provider.fault === "slow") {
        const timer = setTimeout(() => handle(req, res), 30_000);
        req.socket.once("close", () => clearTimeout(timer));
        return;
      }
    }
    handle(req, res);
  });
  const port = await listen(http);
  // The issuer the library would give a server it started on 127.0.0.1 itself.
  oauth.issuer.url = oauth.buildIssuerUrl("127.0.0.1", port);
  return provider;
}

// The library refuses a bad token request (a code used before, whose PKCE verifier it
// therefore no longer has; a verifier that does not match) with a problem+json 400; a real
// provider answers OAuth's {"error": "invalid_grant"}, so this does.
function oauthErrors(res) {
  const end = res.end.bind(res);
  res.end = (body, ...rest) => {
    const type = String(res.getHeader("content-type") ?? "");
    if (res.statusCode !== 400 || !type.startsWith("application/problem+json")) {
      return end(body, ...rest);
    }
    const detail = JSON.parse(String(body)).detail;
    const answer = JSON.stringify({ error: "invalid_grant", error_description: detail });
    res.setHeader("Content-Type", "application/json");
    res.setHeader("Content-Length", Buffer.byteLength(answer));
    return end(answer);
  };
}

// Turns the library's 302 to redirect_uri into Apple's page that POSTs the same answer there.
function formPost(res, provider) {
  const end = res.end.bind(res);
  res.end = (...args) => {
    const location = res.getHeader("location");
    if (res.statusCode !== 302 || typeof location !== "string") return end(...args);
    const target = new URL(location);
    const fields = Object.fromEntries(target.searchParams);
    if (provider.firstUser !== null) {
      fields.user = JSON.stringify(provider.firstUser);
      provider.firstUser = null;
    }
    target.search = "";
    const inputs = Object.entries(fields)
      .map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`)
      .join("");
    res.statusCode = 200;
    res.removeHeader("location");
    const page = `<!DOCTYPE html><html><body onload="document.forms[0].submit()">` +
      `<form method="POST" action="${escapeHtml(target.href)}">${inputs}</form></body></html>`;
    res.setHeader("Content-Type", "text/html; charset=utf-8");
    res.setHeader("Content-Length", Buffer.byteLength(page));
    return end(page);
  };
}

function reply(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json" });
  res.end(text);
}

async function control(req, res) {
  const parts = new URL(req.url, "http://localhost").pathname.split("/").filter(Boolean);
  const provider = parts[0] === "providers" ? providers.get(parts[1]) : undefined;
  if (provider === undefined) return reply(res, 404, { error: "no such provider" });
  if (req.method === "GET" && parts[2] === "last-authorize" && parts.length === 3) {
    return reply(res, 200, provider.lastAuthorize);
  }
  if (req.method !== "POST" || parts.length !== 2) return reply(res, 404, { error: "no such route" });
  let body;
  try {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    return reply(res, 400, { error: "the body must be JSON" });
  }
  const isObject = (value) => value !== null && typeof value === "object" && !Array.isArray(value);
  if (!isObject(body)) return reply(res, 400, { error: "the body must be a JSON object" });
  if ("claims" in body && !isObject(body.claims)) {
    return reply(res, 400, { error: "claims must be an object" });
  }
  if ("fault" in body && body.fault !== null && !FAULTS.includes(body.fault)) {
    return reply(res, 400, { error: `fault must be null or one of ${FAULTS.join(", ")}` });
  }
  if ("first_user" in body && !isObject(body.first_user)) {
    return reply(res, 400, { error: "first_user must be an object" });
  }
  if ("code_ttl" in body && !(Number.isInteger(body.code_ttl) && body.code_ttl >= 0)) {
    return reply(res, 400, { error: "code_ttl must be a whole number of seconds" });
  }
  if ("code_ttl" in body) provider.codeTtl = body.code_ttl;
  if ("claims" in body) provider.claims = body.claims;
  if ("fault" in body) provider.fault = body.fault;
  if ("first_user" in body) provider.firstUser = body.first_user;
  return reply(res, 200, { claims: provider.claims, fault: provider.fault });
}

const stop = () => process.exit(0);
process.on("SIGTERM", stop);
process.stdin.on("end", stop);
process.stdin.on("close", stop);
process.stdin.resume();

for (const name of names) providers.set(name, await startProvider(name));
const controlPort = await listen(createServer((req, res) => {
  control(req, res).catch((error) => reply(res, 500, { error: String(error) }));
}));
const issuers = Object.fromEntries([...providers].map(([name, p]) => [name, p.oauth.issuer.url]));
const apple_key = {
  private_key: appleKey.privateKey.export({ type: "pkcs8", format: "pem" }),
  unknown_private_key: unknownKey.privateKey.export({ type: "pkcs8", format: "pem" }),
  ...APPLE,
};
process.stdout.write(
  `${JSON.stringify({ control: `http://127.0.0.1:${controlPort}`, providers: issuers, apple_key })}\n`,
);
