//! Social login against local OpenID Connect providers (`blockauth_tests::oidc`): the whole
//! redirect dance as a browser makes it, and what a stranger or a failing provider can do.

use blockauth::Settings;
use blockauth::social::settings::ProviderKind;
use blockauth_tests::oidc::{Providers, percent, provider};
use blockauth_tests::{PASSWORD, Reply, TestApp, access, browser, parallel};
use serde_json::{Value, json};

/// A server with Google (links by email; a mobile app's client id too), a generic issuer,
/// `okta`, and Facebook (neither links by email), all local providers.
async fn start(adjust: impl FnOnce(&mut Settings)) -> Option<(TestApp, Providers)> {
    let providers = Providers::start(&["google", "okta", "facebook"]).await?;
    let mut google = provider(
        "google",
        ProviderKind::Google,
        providers.issuer("google"),
        true,
    );
    google.native_client_ids = vec!["ios-app".into()];
    let okta = provider(
        "okta",
        ProviderKind::OpenIdConnect,
        providers.issuer("okta"),
        false,
    );
    let facebook = provider(
        "facebook",
        ProviderKind::Facebook,
        providers.issuer("facebook"),
        false,
    );
    let app = TestApp::start_with(|s| {
        s.social.providers = [
            ("google".into(), google),
            ("okta".into(), okta),
            ("facebook".into(), facebook),
        ]
        .into();
        adjust(s);
    })
    .await;
    Some((app, providers))
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

    // As lifecycle events: the account, its Google link, and each sign-in.
    let events = app.events();
    let mine: Vec<&Value> = events
        .iter()
        .filter(|e| e["user_id"] == user["id"])
        .collect();
    let kinds: Vec<&Value> = mine.iter().map(|e| &e["type"]).collect();
    assert_eq!(
        kinds,
        [
            "signup.confirmed",
            "social.linked",
            "login",
            "password.changed",
            "login"
        ]
    );
    assert_eq!(mine[0]["method"], "GOOGLE");
    assert_eq!(mine[1]["provider"], "google");
    assert_eq!(mine[4]["method"], "GOOGLE");
    events.iter().for_each(crate::events::check_schema);
}

/// A deleted account frees its provider identity: the same person signs in again to a new
/// account, and the old tokens stay dead.
#[tokio::test]
async fn a_deleted_accounts_provider_identity_makes_a_new_account() {
    let Some((app, providers)) = start(|_| {}).await else {
        return;
    };
    providers
        .set(
            "google",
            json!({"sub": "g-del", "email": "del@example.com", "email_verified": true}),
        )
        .await;
    let first = sign_in_with(&app, "google").await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    let export = app.get_as(&access(&first), "me/export/").await;
    assert_eq!(export.body["social_links"][0]["provider"], "google");
    assert_eq!(export.body["social_links"][0]["subject"], "g-del");
    let deleted = app.delete_as(&access(&first), "me/").await;
    assert_eq!(deleted.status, 204, "{:?}", deleted.body);
    let again = sign_in_with(&app, "google").await;
    assert_eq!(again.status, 200, "{:?}", again.body);
    assert_ne!(again.body["user"]["id"], first.body["user"]["id"]);
    assert_eq!(app.get_as(&access(&first), "me/").await.status, 401);
}

/// A provider's sign-in is a first factor: an account with TOTP on gets `mfa_required`,
/// never tokens, until `totp/verify/`.
#[tokio::test]
async fn a_provider_sign_in_needs_the_second_factor_too() {
    let Some((app, providers)) = start(|_| {}).await else {
        return;
    };
    providers
        .set(
            "google",
            json!({"sub": "g-mfa", "email": "mfa@example.com", "email_verified": true}),
        )
        .await;
    let first = sign_in_with(&app, "google").await;
    let token = access(&first);
    let set_up = app.post_as(&token, "totp/setup/", json!({})).await;
    let secret = set_up.body["secret"].as_str().unwrap().to_owned();
    let now = blockauth_tests::early_in_a_step().await;
    let confirm = json!({"code": blockauth_tests::totp_code(&secret, now)});
    assert_eq!(
        app.post_as(&token, "totp/confirm/", confirm).await.status,
        200
    );
    let again = sign_in_with(&app, "google").await;
    assert_eq!(again.status, 200, "{:?}", again.body);
    assert_eq!(again.body["mfa_required"], true, "{:?}", again.body);
    assert!(again.body.get("access").is_none());
    let verify = json!({
        "mfa_token": again.body["mfa_token"],
        "code": blockauth_tests::totp_code(&secret, now + 30),
    });
    let completed = app.post("totp/verify/", verify).await;
    assert_eq!(completed.status, 200, "{:?}", completed.body);
    assert_eq!(completed.body["user"]["id"], first.body["user"]["id"]);
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

/// `dance`'s provider code with `other`'s state: how a code taken from one sign-in is
/// brought into another's callback.
fn code_with_state_of(dance: &Dance, other: &Dance) -> String {
    let part = |query: &str, name: &str| {
        query
            .split('&')
            .find(|pair| pair.starts_with(&format!("{name}=")))
            .unwrap()
            .to_owned()
    };
    format!(
        "{}&{}",
        part(&dance.callback_query, "code"),
        part(&other.callback_query, "state")
    )
}

/// The provider's code works once, soon, and only in the sign-in it was issued for: one
/// taken from the victim's address bar (a log, a referrer) and brought into the attacker's
/// own sign-in fails PKCE; one used already, or late, is refused by the provider too.
#[tokio::test]
async fn a_providers_code_works_once_early_and_only_for_its_own_sign_in() {
    let Some((app, providers)) = start(|_| {}).await else {
        return;
    };
    providers
        .set(
            "google",
            json!({"sub": "g-code", "email": "c@example.com", "email_verified": true}),
        )
        .await;
    // Injected: the victim's unused code in the attacker's sign-in (their state, cookie).
    let victims = to_provider(&app, "google", None).await;
    let attackers = to_provider(&app, "google", None).await;
    let injected = code_with_state_of(&victims, &attackers);
    let reply = callback(&app, "google", &injected, Some(&attackers.cookie)).await;
    assert_eq!(reply.status, 400, "{:?}", reply.body);
    assert_eq!(reply.body["code"], "code_rejected");

    // Used twice: a code that signed in once, brought into a new sign-in.
    let used = to_provider(&app, "google", None).await;
    let first = callback(&app, "google", &used.callback_query, Some(&used.cookie)).await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    let again = to_provider(&app, "google", None).await;
    let replayed = code_with_state_of(&used, &again);
    let reply = callback(&app, "google", &replayed, Some(&again.cookie)).await;
    assert_eq!(reply.status, 400, "{:?}", reply.body);
    assert_eq!(reply.body["code"], "code_rejected");

    // Late: the provider's codes expire (here at once).
    providers.code_ttl("google", 0).await;
    let late = to_provider(&app, "google", None).await;
    let reply = callback(&app, "google", &late.callback_query, Some(&late.cookie)).await;
    assert_eq!(reply.status, 400, "{:?}", reply.body);
    assert_eq!(reply.body["code"], "code_rejected");
    assert!(reply.body.get("access").is_none());
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
        // The provider answers after 30 s; the API gives up after 5.
        ("slow", "provider_failed"),
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

/// Each provider endpoint the API calls, down in its turn (each on a provider not yet
/// used, as discovery and keys are kept once fetched): 502 at the step that needs it, no
/// account or session made, and the next sign-in succeeds once it is back.
#[tokio::test]
async fn each_provider_endpoint_down_is_a_502_and_the_next_sign_in_succeeds() {
    let Some((app, providers)) = start(|_| {}).await else {
        return;
    };
    providers.set("okta", json!({"sub": "o-1"})).await;
    providers.fault("okta", Some("discovery_down")).await;
    // Discovery names the authorize URL: the very first step needs it.
    let started = app.send(browser().get(app.url("okta/"))).await;
    assert_eq!(started.status, 502, "{:?}", started.body);
    assert_eq!(started.body["code"], "provider_failed");
    providers.set("google", json!({"sub": "g-9"})).await;
    providers.fault("google", Some("jwks_down")).await;
    let refused = sign_in_with(&app, "google").await;
    assert_eq!(refused.status, 502, "{:?}", refused.body);
    assert_eq!(refused.body["code"], "provider_failed");
    providers.set("facebook", json!({"id": "fb-9"})).await;
    providers.fault("facebook", Some("userinfo_down")).await;
    let refused = sign_in_with(&app, "facebook").await;
    assert_eq!(refused.status, 502, "{:?}", refused.body);
    assert_eq!(refused.body["code"], "provider_failed");
    let keys = app.partition_keys().await;
    assert!(!keys.iter().any(|pk| pk.starts_with("USER#")), "{keys:?}");
    for name in ["okta", "google", "facebook"] {
        providers.fault(name, None).await;
        let reply = sign_in_with(&app, name).await;
        assert_eq!(reply.status, 200, "{name}: {:?}", reply.body);
    }
}

#[tokio::test]
async fn a_provider_without_configuration_has_no_routes() {
    let Some((app, _providers)) = start(|_| {}).await else {
        return;
    };
    for path in ["github/", "github/callback/?state=x&code=y"] {
        let reply = app.send(browser().get(app.url(path))).await;
        assert_eq!(reply.status, 404, "{path}");
    }
}

/// Facebook has no ID token: the person is read from the Graph API with the access token,
/// and its `id` is the subject. Its email may not link by default, so a first sign-in that
/// carries one is refused; one without an email makes an account.
#[tokio::test]
async fn facebook_people_are_read_from_the_graph_api() {
    let Some((app, providers)) = start(|_| {}).await else {
        return;
    };
    providers
        .set("facebook", json!({"id": "fb-1", "email": "fb@example.com"}))
        .await;
    let refused = sign_in_with(&app, "facebook").await;
    assert_eq!(refused.status, 403, "{:?}", refused.body);
    assert_eq!(refused.body["code"], "email_not_linkable");
    // Not OpenID Connect: no nonce is asked for.
    assert!(providers.last_authorize("facebook").await["nonce"].is_null());

    providers.set("facebook", json!({"id": "fb-2"})).await;
    let signed_in = sign_in_with(&app, "facebook").await;
    assert_eq!(signed_in.status, 200, "{:?}", signed_in.body);
    assert_eq!(signed_in.body["user"]["email"], json!(null));
    assert_eq!(
        signed_in.body["user"]["authentication_types"],
        json!(["FACEBOOK"])
    );
    let again = sign_in_with(&app, "facebook").await;
    assert_eq!(again.body["user"]["id"], signed_in.body["user"]["id"]);
}

#[tokio::test]
async fn a_mobile_apps_id_token_signs_in_once() {
    let Some((app, providers)) = start(|_| {}).await else {
        return;
    };
    providers
        .set(
            "google",
            json!({"sub": "g-app", "email": "app@example.com", "email_verified": true}),
        )
        .await;
    let id_token = providers.id_token("google", "ios-app", "app-nonce-1").await;
    let body = json!({"id_token": id_token, "nonce": "app-nonce-1"});
    let signed_in = app.post("google/native/verify/", body.clone()).await;
    assert_eq!(signed_in.status, 200, "{:?}", signed_in.body);
    assert_eq!(signed_in.body["user"]["email"], "app@example.com");
    let replayed = app.post("google/native/verify/", body).await;
    assert_eq!(replayed.status, 400);
    assert_eq!(replayed.body["code"], "nonce_used");

    // Another nonce than the token's, or a token for another app (the web client's).
    let id_token = providers.id_token("google", "ios-app", "app-nonce-2").await;
    let wrong_nonce = app
        .post(
            "google/native/verify/",
            json!({"id_token": id_token, "nonce": "app-nonce-3"}),
        )
        .await;
    assert_eq!(wrong_nonce.status, 401, "{:?}", wrong_nonce.body);
    let for_the_web = providers
        .id_token("google", "google-client", "app-nonce-4")
        .await;
    let wrong_app = app
        .post(
            "google/native/verify/",
            json!({"id_token": for_the_web, "nonce": "app-nonce-4"}),
        )
        .await;
    assert_eq!(wrong_app.status, 401);
    assert_eq!(wrong_app.body["code"], "id_token_invalid");
    // A provider with no app configured has no such route.
    let none = app
        .post(
            "okta/native/verify/",
            json!({"id_token": "x", "nonce": "y"}),
        )
        .await;
    assert_eq!(none.status, 404);
}

/// LinkedIn is OpenID Connect found by its discovery document; its email may not link by
/// default.
#[tokio::test]
async fn linkedin_signs_in_by_openid_connect() {
    let Some(providers) = Providers::start(&["linkedin"]).await else {
        return;
    };
    let linkedin = provider(
        "linkedin",
        ProviderKind::LinkedIn,
        providers.issuer("linkedin"),
        false,
    );
    let app =
        TestApp::start_with(|s| s.social.providers = [("linkedin".into(), linkedin)].into()).await;
    providers.set("linkedin", json!({"sub": "li-1"})).await;
    let signed_in = sign_in_with(&app, "linkedin").await;
    assert_eq!(signed_in.status, 200, "{:?}", signed_in.body);
    assert_eq!(
        signed_in.body["user"]["authentication_types"],
        json!(["LINKEDIN"])
    );
    assert_eq!(
        providers.last_authorize("linkedin").await["scope"],
        "openid email profile"
    );
    providers
        .set(
            "linkedin",
            json!({"sub": "li-2", "email": "li@example.com", "email_verified": true}),
        )
        .await;
    let refused = sign_in_with(&app, "linkedin").await;
    assert_eq!(refused.status, 403);
    assert_eq!(refused.body["code"], "email_not_linkable");
}

/// Two first sign-ins of one person at once (two tabs, or a stranger replaying the same
/// provider account): one account, owned by that identity, and both get into it.
#[tokio::test]
async fn parallel_first_sign_ins_make_one_account() {
    let Some((app, providers)) = start(|_| {}).await else {
        return;
    };
    providers
        .set(
            "google",
            json!({"sub": "g-race", "email": "race@example.com", "email_verified": true}),
        )
        .await;
    let mut dances = Vec::new();
    for _ in 0..6 {
        dances.push(to_provider(&app, "google", None).await);
    }
    let calls: Vec<(String, String)> = dances
        .iter()
        .map(|d| {
            let url = format!("{}?{}", app.url("google/callback/"), d.callback_query);
            (url, d.cookie.clone())
        })
        .collect();
    let answers = parallel(calls.len(), |i| {
        let (url, cookie) = calls[i].clone();
        async move {
            let answer = browser()
                .get(url)
                .header("cookie", cookie)
                .send()
                .await
                .unwrap();
            let status = answer.status().as_u16();
            (status, answer.json::<Value>().await.unwrap())
        }
    })
    .await;
    let ids: std::collections::BTreeSet<String> = answers
        .iter()
        .map(|(status, body)| {
            assert_eq!(*status, 200, "{body:?}");
            body["user"]["id"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
}

/// A provider's answer (the callback with its state, cookie and code) and the frontend's
/// one-time code, each sent from 120 networks at once: one sign-in, one trade.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_callback_and_its_one_time_code_work_once_under_120_parallel_requests() {
    let frontend = "https://app.example.com/signed-in";
    let Some((app, providers)) = start(|s| {
        s.social.success_redirect = Some(frontend.into());
        s.limits.network_request_limit = 1_000;
        s.limits.request_limit = 1_000;
    })
    .await
    else {
        return;
    };
    providers
        .set(
            "google",
            json!({"sub": "g-120", "email": "many@example.com", "email_verified": true}),
        )
        .await;
    let app = std::sync::Arc::new(app);
    let dance = to_provider(&app, "google", None).await;
    let url = format!("{}?{}", app.url("google/callback/"), dance.callback_query);
    let locations = parallel(120, |i| {
        let (app, url, cookie) = (app.clone(), url.clone(), dance.cookie.clone());
        async move {
            let client = blockauth_tests::client_from(i as u8 + 1);
            let back = app.send(client.get(url).header("cookie", cookie)).await;
            assert_eq!(back.status, 302, "{:?}", back.body);
            back.header("location").unwrap().to_owned()
        }
    })
    .await;
    let codes: Vec<&str> = locations
        .iter()
        .filter_map(|l| l.strip_prefix(&format!("{frontend}?code=")))
        .collect();
    assert_eq!(codes.len(), 1, "{locations:?}");
    let code = codes[0].to_owned();
    let traded = parallel(120, |i| {
        let (app, code) = (app.clone(), code.clone());
        async move {
            app.post_from(i as u8 + 1, "social/token/", json!({"code": code}))
                .await
                .status
        }
    })
    .await;
    assert_eq!(
        traded.iter().filter(|s| **s == 200).count(),
        1,
        "{traded:?}"
    );
    assert!(traded.iter().all(|s| *s == 200 || *s == 400), "{traded:?}");
}
