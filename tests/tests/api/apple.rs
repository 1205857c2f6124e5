//! Sign in with Apple against a local provider that acts as Apple does where it differs
//! (`tests/oidc/providers.mjs`): its page POSTs the answer (`form_post`), it takes only a
//! client secret signed with the team's key, and it sends the person's name once.

use blockauth::Settings;
use blockauth::social::apple;
use blockauth_tests::oidc::{self, FormPost, Providers};
use blockauth_tests::{PASSWORD, Reply, TestApp, browser};
use serde_json::json;

async fn start(
    link_by_email: bool,
    adjust: impl FnOnce(&mut Settings),
) -> Option<(TestApp, Providers)> {
    let providers = Providers::start(&["apple"]).await?;
    let mut apple = providers.apple(link_by_email);
    apple.native_client_ids = vec!["com.example.app".into()];
    let app = TestApp::start_with(|s| {
        s.social.providers = [("apple".into(), apple)].into();
        adjust(s);
    })
    .await;
    Some((app, providers))
}

/// What a browser holds when Apple's page is about to post: the state cookie and the form.
struct Dance {
    cookie: String,
    set_cookie: String,
    posted: FormPost,
}

/// Starts a sign-in with Apple and signs in there: Apple answers with its self-posting page.
async fn to_apple(app: &TestApp) -> Dance {
    let browser = browser();
    let started = app.send(browser.get(app.url("apple/"))).await;
    assert_eq!(started.status, 302, "{:?}", started.body);
    let set_cookie = started.header("set-cookie").expect("a cookie").to_owned();
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let posted = oidc::form_post(started.header("location").unwrap()).await;
    Dance {
        cookie,
        set_cookie,
        posted,
    }
}

/// The browser posts Apple's form to the callback (with `cookie`, if any), cross-site.
async fn post_back(app: &TestApp, body: String, cookie: Option<&str>) -> Reply {
    let mut request = browser()
        .post(app.url("apple/callback/"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", "https://appleid.apple.com")
        .body(body);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    app.send(request).await
}

#[tokio::test]
async fn apple_signs_in_by_form_post_and_names_the_account_once() {
    let Some((app, providers)) = start(true, |_| {}).await else {
        return;
    };
    providers
        .set(
            "apple",
            json!({"sub": "001234.apple", "email": "ada@privaterelay.appleid.com",
                   "email_verified": "true", "is_private_email": "true"}),
        )
        .await;
    providers
        .first_user(
            "apple",
            json!({"name": {"firstName": "Ada", "lastName": "Lovelace"},
                   "email": "ada@privaterelay.appleid.com"}),
        )
        .await;
    let dance = to_apple(&app).await;
    // A cross-site POST carries only a SameSite=None cookie: Secure, HttpOnly, on the
    // callback's path only.
    let set_cookie = dance.set_cookie.to_ascii_lowercase();
    for part in [
        "samesite=none",
        "secure",
        "httponly",
        "path=/auth/apple/callback",
    ] {
        assert!(set_cookie.contains(part), "{set_cookie}");
    }
    // Apple was asked for a form_post, the name and email, PKCE and a nonce.
    let asked = providers.last_authorize("apple").await;
    assert_eq!(asked["response_mode"], "form_post");
    assert_eq!(asked["scope"], "name email");
    assert_eq!(asked["code_challenge_method"], "S256");
    assert!(asked["nonce"].as_str().is_some_and(|n| n.len() >= 32));
    assert_eq!(dance.posted.action, "http://localhost/auth/apple/callback/");
    assert!(
        dance.posted.field("user").is_some(),
        "the first authorization"
    );

    let first = post_back(&app, dance.posted.body(), Some(&dance.cookie)).await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    let user = &first.body["user"];
    assert_eq!(user["name"], "Ada Lovelace");
    assert_eq!(user["email"], "ada@privaterelay.appleid.com");
    assert_eq!(user["authentication_types"], json!(["APPLE"]));

    // Later authorizations carry no name; the account keeps the first one, and a `user`
    // field someone adds to a later post changes nothing.
    let again = to_apple(&app).await;
    assert_eq!(again.posted.field("user"), None);
    let mut forged = again.posted.body();
    forged.push_str("&user=%7B%22name%22%3A%7B%22firstName%22%3A%22Eve%22%7D%7D");
    let returning = post_back(&app, forged, Some(&again.cookie)).await;
    assert_eq!(returning.status, 200, "{:?}", returning.body);
    assert_eq!(returning.body["user"]["id"], user["id"]);
    assert_eq!(returning.body["user"]["name"], "Ada Lovelace");

    // Apple's callback is a POST only.
    let get = app
        .send(browser().get(app.url("apple/callback/?state=x&code=y")))
        .await;
    assert_eq!(get.status, 405);
}

/// A page on another site can make the browser post to the callback, with the browser's
/// SameSite=None cookie; it cannot read that cookie, so it cannot post its state.
#[tokio::test]
async fn a_cross_site_post_without_this_browsers_state_signs_nobody_in() {
    let Some((app, providers)) = start(true, |_| {}).await else {
        return;
    };
    providers
        .set(
            "apple",
            json!({"sub": "attacker.apple", "email": "eve@example.com", "email_verified": true}),
        )
        .await;
    // The attacker's own sign-in, stopped before posting: their code and state.
    let attackers = to_apple(&app).await;
    // The victim began a sign-in of their own: their browser holds their state cookie.
    let victims = to_apple(&app).await;
    // Login CSRF: the attacker's answer posted with the victim's cookie, or with none.
    for cookie in [Some(victims.cookie.as_str()), None] {
        let forged = post_back(&app, attackers.posted.body(), cookie).await;
        assert_eq!(forged.status, 400, "{:?}", forged.body);
        assert_eq!(forged.body["code"], "state_invalid");
    }
    // The victim's own post still works, once.
    let signed_in = post_back(&app, victims.posted.body(), Some(&victims.cookie)).await;
    assert_eq!(signed_in.status, 200, "{:?}", signed_in.body);
    let replayed = post_back(&app, victims.posted.body(), Some(&victims.cookie)).await;
    assert_eq!(replayed.status, 400);
    assert_eq!(replayed.body["code"], "state_invalid");
}

/// Apple refuses a client secret signed with any key but the team's: no token, a 502.
#[tokio::test]
async fn a_client_secret_apple_does_not_accept_signs_nobody_in() {
    let Some(providers) = Providers::start(&["apple"]).await else {
        return;
    };
    // Another P-256 key, as a deployer who uploaded the wrong .p8 would have.
    let mut apple = providers.apple(true);
    apple.client_secret = providers.unknown_apple_key();
    let app = TestApp::start_with(|s| s.social.providers = [("apple".into(), apple)].into()).await;
    providers
        .set(
            "apple",
            json!({"sub": "001.apple", "email": "a@example.com", "email_verified": true}),
        )
        .await;
    let dance = to_apple(&app).await;
    let refused = post_back(&app, dance.posted.body(), Some(&dance.cookie)).await;
    assert_eq!(refused.status, 502, "{:?}", refused.body);
    assert!(refused.body.get("access").is_none());
}

/// Apple's native SDKs are given the SHA-256 of the app's nonce: the app sends its own.
#[tokio::test]
async fn an_apple_apps_id_token_carries_its_hashed_nonce() {
    let Some((app, providers)) = start(true, |_| {}).await else {
        return;
    };
    providers
        .set(
            "apple",
            json!({"sub": "001.native", "email": "app@example.com", "email_verified": true}),
        )
        .await;
    let raw = "raw-app-nonce-1";
    let id_token = providers
        .id_token("apple", "com.example.app", &apple::native_nonce(raw))
        .await;
    // The hashed nonce itself is not what the app holds.
    let hashed = app
        .post(
            "apple/native/verify/",
            json!({"id_token": id_token, "nonce": apple::native_nonce(raw)}),
        )
        .await;
    assert_eq!(hashed.status, 401, "{:?}", hashed.body);
    let signed_in = app
        .post(
            "apple/native/verify/",
            json!({"id_token": id_token, "nonce": raw}),
        )
        .await;
    assert_eq!(signed_in.status, 200, "{:?}", signed_in.body);
    assert_eq!(
        signed_in.body["user"]["authentication_types"],
        json!(["APPLE"])
    );
}

/// By default Apple may not link by email: its first sign-in is refused alike whether or
/// not an account has the email, and the answer goes to the frontend as an error code.
#[tokio::test]
async fn by_default_an_apple_email_never_joins_an_account() {
    let Some((app, providers)) = start(false, |s| {
        s.social.success_redirect = Some("https://app.example.com/signed-in".into());
    })
    .await
    else {
        return;
    };
    let owner = app.sign_up("owner@example.com", PASSWORD).await;
    let mut answers = Vec::new();
    for email in ["owner@example.com", "nobody@example.com"] {
        providers
            .set(
                "apple",
                json!({"sub": format!("s-{email}"), "email": email, "email_verified": true}),
            )
            .await;
        let dance = to_apple(&app).await;
        let answer = post_back(&app, dance.posted.body(), Some(&dance.cookie)).await;
        assert_eq!(answer.status, 302, "{:?}", answer.body);
        answers.push(answer.header("location").unwrap().to_owned());
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(
        answers[0],
        "https://app.example.com/signed-in?error=email_not_linkable"
    );
    let login = app
        .post(
            "login/basic/",
            json!({"email": "owner@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(login.status, 200);
    // The owner's account is untouched: the same, known only by its email.
    let (user, before) = (&login.body["user"], &owner.body["user"]);
    assert_eq!(user["id"], before["id"]);
    assert_eq!(user["authentication_types"], json!(["EMAIL"]));
    assert_eq!(user["email"], "owner@example.com");
}
