//! Social login against local OpenID Connect providers (`blockauth_tests::oidc`): the whole
//! redirect dance as a browser makes it, and what a stranger or a failing provider can do.

use blockauth::Settings;
use blockauth::social::settings::{Provider, ProviderKind};
use blockauth_tests::oidc::Providers;
use blockauth_tests::{PASSWORD, Reply, TestApp, access};
use serde_json::{Value, json};

/// The routes' client: a browser that shows each redirect instead of following it.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn provider(name: &str, kind: ProviderKind, issuer: String, link_by_email: bool) -> Provider {
    Provider {
        name: name.to_owned(),
        kind,
        client_id: format!("{name}-client"),
        client_secret: "test-secret".to_owned(),
        client_secret_name: None,
        // The providers here redirect to whatever this names; `callback` sends the browser
        // to the test server itself with the query the provider gave.
        redirect_uri: format!("http://localhost/auth/{name}/callback/"),
        issuer,
        authorize_url: None,
        token_url: None,
        jwks_url: None,
        scopes: vec!["openid".into(), "email".into(), "profile".into()],
        link_by_email,
    }
}

/// A server with Google (links by email) and a generic issuer, `okta` (does not), both
/// local providers.
async fn start(adjust: impl FnOnce(&mut Settings)) -> Option<(TestApp, Providers)> {
    let providers = Providers::start(&["google", "okta"]).await?;
    let google = provider(
        "google",
        ProviderKind::Google,
        providers.issuer("google"),
        true,
    );
    let okta = provider(
        "okta",
        ProviderKind::OpenIdConnect,
        providers.issuer("okta"),
        false,
    );
    let app = TestApp::start_with(|s| {
        s.social.providers = [("google".into(), google), ("okta".into(), okta)].into();
        adjust(s);
    })
    .await;
    Some((app, providers))
}

/// `text` percent-encoded for a query.
fn percent(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// What a browser holds between the steps: the state cookie and the provider's redirect.
struct Dance {
    cookie: String,
    /// The query the provider sent the browser back with (`code`, `state`).
    callback_query: String,
}

/// Starts a sign-in at `name` and signs in at the provider (which does so at once).
async fn to_provider(app: &TestApp, name: &str, next: Option<&str>) -> Dance {
    let browser = browser();
    let mut url = app.url(&format!("{name}/"));
    if let Some(next) = next {
        url = format!("{url}?next={}", percent(next));
    }
    let started = app.send(browser.get(url)).await;
    assert_eq!(started.status, 302, "{:?}", started.body);
    let cookie = started
        .header("set-cookie")
        .and_then(|c| c.split(';').next())
        .expect("a state cookie")
        .to_owned();
    let at_provider = browser
        .get(started.header("location").unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(at_provider.status().as_u16(), 302);
    let back = at_provider.headers()["location"].to_str().unwrap();
    let callback_query = back.split_once('?').unwrap().1.to_owned();
    Dance {
        cookie,
        callback_query,
    }
}

/// The browser comes back to the callback (with its cookie unless `cookie` is None).
async fn callback(app: &TestApp, name: &str, query: &str, cookie: Option<&str>) -> Reply {
    let mut request = browser().get(format!("{}?{query}", app.url(&format!("{name}/callback/"))));
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    app.send(request).await
}

async fn sign_in_with(app: &TestApp, name: &str) -> Reply {
    let dance = to_provider(app, name, None).await;
    callback(app, name, &dance.callback_query, Some(&dance.cookie)).await
}

#[tokio::test]
async fn a_first_sign_in_makes_a_verified_account_and_the_next_finds_it() {
    let Some((app, providers)) = start(|_| {}).await else {
        return;
    };
    providers
        .set(
            "google",
            json!({"sub": "g-1", "email": "Ada@Example.com", "email_verified": true}),
        )
        .await;
    let first = sign_in_with(&app, "google").await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    let user = &first.body["user"];
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["is_verified"], true);
    assert_eq!(user["authentication_types"], json!(["GOOGLE"]));
    // The provider saw PKCE (S256), a nonce and the scopes; the state is the cookie's.
    let asked = providers.last_authorize("google").await;
    assert_eq!(asked["code_challenge_method"], "S256");
    assert_eq!(asked["scope"], "openid email profile");
    assert!(asked["nonce"].as_str().is_some_and(|n| n.len() >= 32));
    // The tokens work like any others.
    let me = app
        .post_as(
            &access(&first),
            "password/change/",
            json!({"new_password": PASSWORD}),
        )
        .await;
    assert_eq!(me.status, 200, "{:?}", me.body);

    let again = sign_in_with(&app, "google").await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body["user"]["id"], user["id"]);
}

#[tokio::test]
async fn a_verified_email_joins_its_account_where_the_provider_may_link() {
    let Some((app, providers)) = start(|_| {}).await else {
        return;
    };
    let signed_up = app.sign_up("ada@example.com", PASSWORD).await;
    providers
        .set(
            "google",
            json!({"sub": "g-2", "email": "ada@example.com", "email_verified": true}),
        )
        .await;
    let joined = sign_in_with(&app, "google").await;
    assert_eq!(joined.status, 200, "{:?}", joined.body);
    assert_eq!(joined.body["user"]["id"], signed_up.body["user"]["id"]);
    assert_eq!(
        joined.body["user"]["authentication_types"],
        json!(["EMAIL", "GOOGLE"])
    );
}

/// A stranger's provider account that claims the owner's email: unverified at Google, or at
/// a provider that may not link by email. Refused alike whether or not an account has the
/// email, and the owner's account is untouched.
#[tokio::test]
async fn an_email_that_may_not_link_is_refused_alike_for_every_address() {
    let Some((app, providers)) = start(|_| {}).await else {
        return;
    };
    let owner = app.sign_up("owner@example.com", PASSWORD).await;
    let mut answers: Vec<(u16, Value)> = Vec::new();
    for (name, email, verified) in [
        ("google", "owner@example.com", false),
        ("google", "nobody@example.com", false),
        ("okta", "owner@example.com", true),
        ("okta", "nobody@example.com", true),
    ] {
        providers
            .set(
                name,
                json!({"sub": format!("stranger-{email}"), "email": email, "email_verified": verified}),
            )
            .await;
        let reply = sign_in_with(&app, name).await;
        answers.push((reply.status, reply.body));
    }
    for answer in &answers {
        assert_eq!(answer.0, 403);
        assert_eq!(answer.1["code"], "email_not_linkable");
        assert_eq!(answer, &answers[0]);
    }
    let login = app
        .post(
            "login/basic/",
            json!({"email": "owner@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(login.body["user"]["id"], owner.body["user"]["id"]);
    assert_eq!(login.body["user"]["authentication_types"], json!(["EMAIL"]));
}

#[tokio::test]
async fn the_state_is_this_browsers_and_used_once() {
    let Some((app, _providers)) = start(|_| {}).await else {
        return;
    };
    let dance = to_provider(&app, "google", None).await;
    // Without the cookie (another browser finishing this sign-in), or with another's.
    let stranger = to_provider(&app, "google", None).await;
    for cookie in [None, Some(stranger.cookie.as_str())] {
        let reply = callback(&app, "google", &dance.callback_query, cookie).await;
        assert_eq!(reply.status, 400, "{cookie:?}");
        assert_eq!(reply.body["code"], "state_invalid");
    }
    let first = callback(&app, "google", &dance.callback_query, Some(&dance.cookie)).await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    let replayed = callback(&app, "google", &dance.callback_query, Some(&dance.cookie)).await;
    assert_eq!(replayed.status, 400);
    assert_eq!(replayed.body["code"], "state_invalid");
    // A state made up by the caller, cookie and all.
    let forged = callback(
        &app,
        "google",
        "code=x&state=forged",
        Some("blockauth_social_state=forged"),
    )
    .await;
    assert_eq!(forged.status, 400);
}

#[tokio::test]
async fn the_frontend_gets_a_one_time_code_never_tokens_in_the_url() {
    let frontend = "https://app.example.com/signed-in";
    let elsewhere = "https://app.example.com/settings";
    let Some((app, providers)) = start(|s| {
        s.social.success_redirect = Some(frontend.into());
        s.social.redirect_allowlist = vec![elsewhere.into()];
    })
    .await
    else {
        return;
    };
    providers
        .set(
            "google",
            json!({"sub": "g-3", "email": "bo@example.com", "email_verified": true}),
        )
        .await;
    let dance = to_provider(&app, "google", None).await;
    let back = callback(&app, "google", &dance.callback_query, Some(&dance.cookie)).await;
    assert_eq!(back.status, 302);
    let location = back.header("location").unwrap().to_owned();
    let code = location
        .strip_prefix(&format!("{frontend}?code="))
        .unwrap_or_else(|| panic!("{location}"));
    assert!(!location.contains("eyJ"), "a token in the URL: {location}");
    let traded = app.post("social/token/", json!({"code": code})).await;
    assert_eq!(traded.status, 200, "{:?}", traded.body);
    assert_eq!(traded.body["user"]["email"], "bo@example.com");
    let again = app.post("social/token/", json!({"code": code})).await;
    assert_eq!(again.status, 400);
    assert_eq!(again.body["code"], "code_invalid");

    // An allowed `next` is where the browser lands; any other is refused at the start.
    let dance = to_provider(&app, "google", Some(elsewhere)).await;
    let back = callback(&app, "google", &dance.callback_query, Some(&dance.cookie)).await;
    assert!(
        back.header("location")
            .unwrap()
            .starts_with(&format!("{elsewhere}?code="))
    );
    let open_redirect = app
        .send(browser().get(format!(
            "{}?next={}",
            app.url("google/"),
            percent("https://evil.example.net/")
        )))
        .await;
    assert_eq!(open_redirect.status, 400);
    assert_eq!(open_redirect.body["code"], "next_not_allowed");

    // A failure goes to the frontend too, as an error code.
    let dance = to_provider(&app, "google", None).await;
    let back = callback(&app, "google", &dance.callback_query, None).await;
    assert_eq!(
        back.header("location"),
        Some(format!("{frontend}?error=state_invalid").as_str())
    );
}

#[tokio::test]
async fn a_provider_that_misbehaves_signs_nobody_in() {
    let Some((app, providers)) = start(|_| {}).await else {
        return;
    };
    providers
        .set(
            "google",
            json!({"sub": "g-4", "email": "cy@example.com", "email_verified": true}),
        )
        .await;
    for (fault, code) in [
        ("wrong_audience", "id_token_invalid"),
        ("wrong_issuer", "id_token_invalid"),
        ("wrong_nonce", "id_token_invalid"),
        ("expired", "id_token_invalid"),
        ("bad_signature", "id_token_invalid"),
        ("html", "provider_failed"),
        ("down", "provider_failed"),
    ] {
        providers.fault("google", Some(fault)).await;
        let reply = sign_in_with(&app, "google").await;
        assert_eq!(reply.status, 502, "{fault}: {:?}", reply.body);
        assert_eq!(reply.body["code"], code, "{fault}");
    }
    providers.fault("google", None).await;
    let reply = sign_in_with(&app, "google").await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
}

#[tokio::test]
async fn a_provider_without_configuration_has_no_routes() {
    let Some((app, _providers)) = start(|_| {}).await else {
        return;
    };
    for path in ["facebook/", "facebook/callback/?state=x&code=y"] {
        let reply = app.send(browser().get(app.url(path))).await;
        assert_eq!(reply.status, 404, "{path}");
    }
}
