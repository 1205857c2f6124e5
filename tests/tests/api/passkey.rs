//! Passkeys over HTTP with a software authenticator (`blockauth_tests::authenticator`):
//! what a browser sends, and what an attacker could send instead. The browser tests drive
//! Chromium's own authenticator through the demo page.

use blockauth_tests::authenticator::Authenticator;
use blockauth_tests::{PASSWORD, Reply, TestApp, access, parallel};
use serde_json::{Value, json};

/// The origin the test authenticator says it runs at (the default allowed origin).
const ORIGIN: &str = "http://localhost:3000";

/// A server whose per-route limit leaves room for a test's many ceremonies (the limits
/// themselves are tested on their own).
async fn start(adjust: impl FnOnce(&mut blockauth::Settings)) -> TestApp {
    TestApp::start_with(|s| {
        s.limits.request_limit = 100;
        adjust(s);
    })
    .await
}

/// A signed-up account's access token.
async fn account(app: &TestApp, email: &str) -> String {
    access(&app.sign_up(email, PASSWORD).await)
}

/// Registration options for the account of `token`.
async fn register_options(app: &TestApp, token: &str) -> Value {
    let options = app
        .post_as(token, "passkey/register/options/", json!({}))
        .await;
    assert_eq!(options.status, 200, "{:?}", options.body);
    options.body
}

/// A passkey made and registered for the account of `token`.
async fn register(app: &TestApp, token: &str, name: &str) -> (Authenticator, Value) {
    let options = register_options(app, token).await;
    let (authenticator, credential) = Authenticator::create(&options, ORIGIN);
    let registered = app
        .post_as(
            token,
            "passkey/register/verify/",
            json!({"credential": credential, "name": name}),
        )
        .await;
    assert_eq!(registered.status, 201, "{:?}", registered.body);
    (authenticator, registered.body)
}

/// Sign-in options, for `email` or discoverable.
async fn sign_in_options(app: &TestApp, email: Option<&str>) -> Value {
    let body = match email {
        Some(email) => json!({"email": email}),
        None => json!({}),
    };
    let options = app.post("passkey/auth/options/", body).await;
    assert_eq!(options.status, 200, "{:?}", options.body);
    options.body
}

async fn sign_in(app: &TestApp, authenticator: &mut Authenticator, email: Option<&str>) -> Reply {
    let options = sign_in_options(app, email).await;
    let assertion = authenticator.assert(&options);
    app.post("passkey/auth/verify/", json!({"credential": assertion}))
        .await
}

#[tokio::test]
async fn a_passkey_registers_signs_in_and_is_managed_by_its_owner() {
    let app = start(|_| {}).await;
    let token = account(&app, "ada@example.com").await;
    let options = register_options(&app, &token).await;
    let public_key = &options["publicKey"];
    assert_eq!(public_key["rp"]["id"], "localhost");
    assert_eq!(
        public_key["authenticatorSelection"]["residentKey"],
        "required"
    );
    assert_eq!(
        public_key["authenticatorSelection"]["userVerification"],
        "required"
    );
    let (mut authenticator, created) = {
        let (authenticator, credential) = Authenticator::create(&options, ORIGIN);
        let reply = app
            .post_as(
                &token,
                "passkey/register/verify/",
                json!({"credential": credential, "name": "Laptop"}),
            )
            .await;
        assert_eq!(reply.status, 201, "{:?}", reply.body);
        (authenticator, reply.body)
    };
    assert_eq!(created["name"], "Laptop");
    assert_eq!(created["transports"], json!(["internal", "hybrid"]));
    assert_eq!(created["backup_eligible"], true);
    assert_eq!(created["last_used_at"], Value::Null);
    let id = created["id"].as_str().unwrap().to_owned();

    // Discoverable (no email), and for the email.
    let options = sign_in_options(&app, None).await;
    assert_eq!(options["mediation"], "conditional");
    let assertion = authenticator.assert(&options);
    let signed_in = app
        .post("passkey/auth/verify/", json!({"credential": assertion}))
        .await;
    assert_eq!(signed_in.status, 200, "{:?}", signed_in.body);
    assert_eq!(signed_in.body["user"]["email"], "ada@example.com");
    assert_eq!(
        signed_in.body["user"]["authentication_types"],
        json!(["EMAIL", "PASSKEY"])
    );
    let with_email = sign_in(&app, &mut authenticator, Some("ada@example.com")).await;
    assert_eq!(with_email.status, 200, "{:?}", with_email.body);

    // Listed, renamed, deleted; then it signs nobody in.
    let listed = app.get_as(&token, "passkey/credentials/").await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.body["count"], 1);
    assert_ne!(listed.body["credentials"][0]["last_used_at"], Value::Null);
    assert!(listed.body["credentials"][0].get("passkey").is_none());
    let renamed = app
        .patch_as(
            &token,
            &format!("passkey/credentials/{id}/"),
            json!({"name": "Work laptop"}),
        )
        .await;
    assert_eq!(renamed.status, 200, "{:?}", renamed.body);
    assert_eq!(renamed.body["name"], "Work laptop");
    let deleted = app
        .delete_as(&token, &format!("passkey/credentials/{id}/"))
        .await;
    assert_eq!(deleted.status, 204, "{:?}", deleted.body);
    let after = sign_in(&app, &mut authenticator, None).await;
    assert_eq!(after.status, 401, "{:?}", after.body);
    let listed = app.get_as(&token, "passkey/credentials/").await;
    assert_eq!(listed.body["count"], 0);

    // Registered and removed, as lifecycle events; each sign-in a login by PASSKEY.
    let events = app.events();
    let of_passkey: Vec<&Value> = events
        .iter()
        .filter(|e| e["passkey_id"] == id.as_str())
        .map(|e| &e["type"])
        .collect();
    assert_eq!(of_passkey, ["passkey.registered", "passkey.removed"]);
    let passkey_logins = events
        .iter()
        .filter(|e| e["type"] == "login" && e["method"] == "PASSKEY")
        .count();
    assert_eq!(passkey_logins, 2);
    events.iter().for_each(crate::events::check_schema);
}

/// A ceremony's state serves one verification, for the account that asked, until it
/// expires.
#[tokio::test]
async fn a_ceremony_is_used_once_by_its_own_account_before_it_expires() {
    let app = start(|_| {}).await;
    let ada = account(&app, "ada@example.com").await;
    let eve = account(&app, "eve@example.com").await;
    let options = register_options(&app, &ada).await;
    let (_, credential) = Authenticator::create(&options, ORIGIN);
    // Eve posts the credential made for Ada's ceremony into her own account.
    let stolen = app
        .post_as(
            &eve,
            "passkey/register/verify/",
            json!({"credential": credential}),
        )
        .await;
    assert_eq!(stolen.status, 400, "{:?}", stolen.body);
    assert_eq!(stolen.body["code"], "passkey_ceremony_invalid");
    // That attempt used the ceremony up: Ada starts again.
    let replayed = app
        .post_as(
            &ada,
            "passkey/register/verify/",
            json!({"credential": credential}),
        )
        .await;
    assert_eq!(replayed.body["code"], "passkey_ceremony_invalid");

    let (mut authenticator, _) = register(&app, &ada, "Phone").await;
    let options = sign_in_options(&app, Some("ada@example.com")).await;
    let assertion = authenticator.assert(&options);
    let first = app
        .post("passkey/auth/verify/", json!({"credential": assertion}))
        .await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    let again = app
        .post("passkey/auth/verify/", json!({"credential": assertion}))
        .await;
    assert_eq!(again.status, 400);
    assert_eq!(again.body["code"], "passkey_ceremony_invalid");

    // Expired: the options are older than PASSKEY_CHALLENGE_TTL (1 s on this server; the
    // ceremony is looked up before any credential).
    let quick = start(|s| s.passkey.challenge_ttl = 1).await;
    let options = sign_in_options(&quick, None).await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let late = quick
        .post(
            "passkey/auth/verify/",
            json!({"credential": authenticator.assert(&options)}),
        )
        .await;
    assert_eq!(late.status, 400, "{:?}", late.body);
    assert_eq!(late.body["code"], "passkey_ceremony_invalid");
}

/// A phishing page (another origin) or another site's RP id gets nothing signed for here.
#[tokio::test]
async fn another_origin_or_relying_party_is_refused() {
    let app = start(|_| {}).await;
    let token = account(&app, "ada@example.com").await;
    let options = register_options(&app, &token).await;
    let (_, credential) = Authenticator::create(&options, "https://evil.example");
    let refused = app
        .post_as(
            &token,
            "passkey/register/verify/",
            json!({"credential": credential}),
        )
        .await;
    assert_eq!(refused.status, 400, "{:?}", refused.body);
    assert_eq!(refused.body["code"], "passkey_invalid");

    let (mut authenticator, _) = register(&app, &token, "Laptop").await;
    authenticator.origin = "https://evil.example".into();
    let phished = sign_in(&app, &mut authenticator, None).await;
    assert_eq!(phished.status, 401, "{:?}", phished.body);
    authenticator.origin = ORIGIN.into();
    authenticator.rp_id = "evil.example".into();
    let other_rp = sign_in(&app, &mut authenticator, None).await;
    assert_eq!(other_rp.status, 401, "{:?}", other_rp.body);
    authenticator.rp_id = "localhost".into();
    let fine = sign_in(&app, &mut authenticator, None).await;
    assert_eq!(fine.status, 200, "{:?}", fine.body);
}

/// A credential id belongs to one account: registering it again, here or into another
/// account, is refused.
#[tokio::test]
async fn a_credential_belongs_to_one_account() {
    let app = start(|_| {}).await;
    let ada = account(&app, "ada@example.com").await;
    let eve = account(&app, "eve@example.com").await;
    let (mut authenticator, _) = register(&app, &ada, "Laptop").await;
    for token in [&ada, &eve] {
        let options = register_options(&app, token).await;
        let credential = authenticator.attest(options["publicKey"]["challenge"].as_str().unwrap());
        let again = app
            .post_as(
                token,
                "passkey/register/verify/",
                json!({"credential": credential}),
            )
            .await;
        assert_eq!(again.status, 409, "{:?}", again.body);
        assert_eq!(again.body["code"], "passkey_taken");
    }
    // Ada's options exclude it.
    let options = register_options(&app, &ada).await;
    assert_eq!(
        options["publicKey"]["excludeCredentials"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    // Eve's account lists none; Ada's passkey still signs Ada in.
    let listed = app.get_as(&eve, "passkey/credentials/").await;
    assert_eq!(listed.body["count"], 0);
    let signed_in = sign_in(&app, &mut authenticator, None).await;
    assert_eq!(signed_in.body["user"]["email"], "ada@example.com");
}

/// Nobody renames or deletes a passkey that is not theirs: the same 404 as for none.
#[tokio::test]
async fn another_accounts_passkey_cannot_be_renamed_or_deleted() {
    let app = start(|_| {}).await;
    let ada = account(&app, "ada@example.com").await;
    let eve = account(&app, "eve@example.com").await;
    let (_, created) = register(&app, &ada, "Laptop").await;
    let path = format!("passkey/credentials/{}/", created["id"].as_str().unwrap());
    let renamed = app.patch_as(&eve, &path, json!({"name": "mine"})).await;
    assert_eq!(renamed.status, 404, "{:?}", renamed.body);
    let deleted = app.delete_as(&eve, &path).await;
    assert_eq!(deleted.status, 404);
    for path in [
        "passkey/credentials/not-a-uuid/",
        "passkey/credentials/%FF/",
    ] {
        assert_eq!(app.delete_as(&ada, path).await.status, 404, "{path}");
    }
    let listed = app.get_as(&ada, "passkey/credentials/").await;
    assert_eq!(listed.body["credentials"][0]["name"], "Laptop");
}

/// At most PASSKEY_MAX_CREDENTIALS, however many registrations run at once.
#[tokio::test]
async fn the_credential_limit_holds_under_parallel_registrations() {
    let app = std::sync::Arc::new(start(|s| s.passkey.max_credentials = 2).await);
    let token = account(&app, "ada@example.com").await;
    register(&app, &token, "One").await;
    // Six registrations begun while there is room for one more.
    let mut credentials = Vec::new();
    for _ in 0..6 {
        let options = register_options(&app, &token).await;
        credentials.push(Authenticator::create(&options, ORIGIN).1);
    }
    let replies = parallel(6, |i| {
        let (app, token, credential) = (app.clone(), token.clone(), credentials[i].clone());
        async move {
            app.post_as(
                &token,
                "passkey/register/verify/",
                json!({"credential": credential}),
            )
            .await
        }
    })
    .await;
    let made = replies.iter().filter(|r| r.status == 201).count();
    assert_eq!(
        made,
        1,
        "{:?}",
        replies.iter().map(|r| &r.body).collect::<Vec<_>>()
    );
    for refused in replies.iter().filter(|r| r.status != 201) {
        assert_eq!(refused.status, 409);
        assert_eq!(refused.body["code"], "passkey_limit");
    }
    let full = app
        .post_as(&token, "passkey/register/options/", json!({}))
        .await;
    assert_eq!(full.status, 409);
    assert_eq!(full.body["code"], "passkey_limit");
    let listed = app.get_as(&token, "passkey/credentials/").await;
    assert_eq!(listed.body["count"], 2);
}

/// A counter that goes backwards (a cloned authenticator) is refused; one that is always 0
/// (a synced passkey) keeps working.
#[tokio::test]
async fn a_counter_going_backwards_is_refused_and_zero_counters_keep_working() {
    let app = start(|_| {}).await;
    let token = account(&app, "ada@example.com").await;
    let (mut synced, _) = register(&app, &token, "Synced").await;
    for _ in 0..3 {
        let signed_in = sign_in(&app, &mut synced, None).await;
        assert_eq!(signed_in.status, 200, "{:?}", signed_in.body);
    }
    let (mut counting, _) = register(&app, &token, "Key").await;
    counting.counter = 5;
    assert_eq!(sign_in(&app, &mut counting, None).await.status, 200);
    assert_eq!(sign_in(&app, &mut counting, None).await.status, 200);
    // A clone still at 5 (the original has reached 7).
    counting.counter = 5;
    let cloned = sign_in(&app, &mut counting, None).await;
    assert_eq!(cloned.status, 401, "{:?}", cloned.body);
    counting.counter = 8;
    assert_eq!(sign_in(&app, &mut counting, None).await.status, 200);
}

/// Credentials that are not what a browser sends: 400, never a 500.
#[tokio::test]
async fn malformed_and_oversized_credentials_are_refused() {
    let app = start(|_| {}).await;
    let token = account(&app, "ada@example.com").await;
    register_options(&app, &token).await;
    let valid = {
        let options = register_options(&app, &token).await;
        Authenticator::create(&options, ORIGIN).1
    };
    let mut no_client_data = valid.clone();
    no_client_data["response"]["clientDataJSON"] = json!("bm90IGpzb24");
    let mut bad_base64 = valid.clone();
    bad_base64["response"]["attestationObject"] = json!("***");
    let mut garbage_attestation = valid.clone();
    garbage_attestation["response"]["attestationObject"] = json!("AAAA");
    for credential in [
        json!({}),
        json!("text"),
        json!([1, 2]),
        json!({"id": 1}),
        no_client_data,
        bad_base64,
        garbage_attestation,
    ] {
        let reply = app
            .post_as(
                &token,
                "passkey/register/verify/",
                json!({"credential": credential}),
            )
            .await;
        assert_eq!(reply.status, 400, "{credential}: {:?}", reply.body);
        let reply = app
            .post("passkey/auth/verify/", json!({"credential": credential}))
            .await;
        assert_eq!(reply.status, 400, "{credential}: {:?}", reply.body);
    }
    let huge = json!({"credential": {"id": "x".repeat(70_000)}});
    let reply = app.post("passkey/auth/verify/", huge).await;
    assert_eq!(reply.status, 413, "{:?}", reply.body);
    let reply = app.post("passkey/auth/verify/", json!({})).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.body["credential"][0], "This field is required.");
}

/// Options for an email with passkeys and for one without (or without an account) have
/// the same shape, and each is the same on every ask: they tell nobody who has an account.
#[tokio::test]
async fn options_for_known_and_unknown_emails_look_alike() {
    let app = start(|_| {}).await;
    let token = account(&app, "ada@example.com").await;
    register(&app, &token, "Laptop").await;
    account(&app, "bob@example.com").await;
    let shape = |options: &Value| {
        let public_key = &options["publicKey"];
        let mut keys: Vec<&String> = public_key.as_object().unwrap().keys().collect();
        keys.sort();
        let allowed = public_key["allowCredentials"].as_array().unwrap();
        let entries: Vec<Value> = allowed
            .iter()
            .map(|c| {
                json!({
                    "type": c["type"],
                    "transports": c["transports"],
                    "id_length": c["id"].as_str().unwrap().len(),
                })
            })
            .collect();
        (
            format!("{keys:?}"),
            entries[0].clone(),
            options.get("mediation").cloned(),
        )
    };
    let known = sign_in_options(&app, Some("ada@example.com")).await;
    for email in ["bob@example.com", "nobody@example.com"] {
        let unknown = sign_in_options(&app, Some(email)).await;
        assert_eq!(shape(&unknown), shape(&known), "{email}");
        let again = sign_in_options(&app, Some(email)).await;
        assert_eq!(
            again["publicKey"]["allowCredentials"], unknown["publicKey"]["allowCredentials"],
            "{email}: the same decoys every time"
        );
    }
    // A decoy signs nobody in.
    let options = sign_in_options(&app, Some("nobody@example.com")).await;
    let (mut stranger, _) = {
        let options = register_options(&app, &token).await;
        Authenticator::create(&options, ORIGIN)
    };
    let reply = app
        .post(
            "passkey/auth/verify/",
            json!({"credential": stranger.assert(&options)}),
        )
        .await;
    assert_eq!(reply.status, 401, "{:?}", reply.body);
}

/// An account whose only way in is one passkey cannot delete it; with another way in, or
/// another passkey, it can.
#[tokio::test]
async fn the_last_way_in_cannot_be_deleted() {
    let app = start(|_| {}).await;
    let token = account(&app, "ada@example.com").await;
    let (_, first) = register(&app, &token, "One").await;
    let (_, second) = register(&app, &token, "Two").await;
    // Ada's other ways in are gone (as after unlinking them): her password and her email.
    let user_id = blockauth_tests::claims(&token)["user_id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.server
        .context
        .store
        .write(blockauth::store::Write::update(
            &blockauth::identity::user::partition(&user_id),
            blockauth::identity::user::SORT_KEY,
            blockauth::store::Expression::new("REMOVE password_hash, email"),
        ))
        .await
        .unwrap();
    let path = |c: &Value| format!("passkey/credentials/{}/", c["id"].as_str().unwrap());
    assert_eq!(app.delete_as(&token, &path(&first)).await.status, 204);
    let last = app.delete_as(&token, &path(&second)).await;
    assert_eq!(last.status, 409, "{:?}", last.body);
    assert_eq!(last.body["code"], "last_way_in");
    let listed = app.get_as(&token, "passkey/credentials/").await;
    assert_eq!(listed.body["count"], 1);
}

/// The public routes are limited per client network: a stranger hammering sign-in options
/// or verifications from one network is stopped there, and others go on.
#[tokio::test]
async fn public_routes_are_limited_per_client_network() {
    let app = TestApp::start_with(|s| s.limits.network_request_limit = 2).await;
    for path in ["passkey/auth/options/", "passkey/auth/verify/"] {
        let body = json!({"credential": {"id": "x"}});
        let mut statuses = Vec::new();
        for host in [1, 1, 1, 2] {
            statuses.push(app.post_from(host, path, body.clone()).await.status);
        }
        assert_eq!(statuses[2], 429, "{path}: {statuses:?}");
        assert_ne!(statuses[3], 429, "{path}: another network: {statuses:?}");
    }
}

/// A deleted account's passkeys go with it: they sign nobody in, and nothing of the account
/// is left that names them.
#[tokio::test]
async fn a_deleted_accounts_passkeys_sign_nobody_in() {
    let app = start(|_| {}).await;
    let token = account(&app, "ada@example.com").await;
    let (mut authenticator, _) = register(&app, &token, "Laptop").await;
    let signed_in = sign_in(&app, &mut authenticator, None).await;
    assert_eq!(signed_in.status, 200, "{:?}", signed_in.body);
    let user_id = signed_in.body["user"]["id"].as_str().unwrap().to_owned();
    let deleted = app.delete_as(&access(&signed_in), "me/").await;
    assert_eq!(deleted.status, 204, "{:?}", deleted.body);
    let refused = sign_in(&app, &mut authenticator, None).await;
    assert_eq!(refused.status, 401, "{:?}", refused.body);
    let left = app
        .server
        .context
        .store
        .query_partition(&blockauth::identity::user::partition(&user_id))
        .await
        .unwrap();
    assert!(left.is_empty(), "{left:?}");
}

/// A passkey verifies its user (`userVerification: required`), so it is both factors: an
/// account with TOTP on signs in with it without a code, and with its password only after
/// one.
#[tokio::test]
async fn a_passkey_counts_as_both_factors() {
    let app = start(|_| {}).await;
    let token = account(&app, "ada@example.com").await;
    let (mut authenticator, _) = register(&app, &token, "Laptop").await;
    let set_up = app.post_as(&token, "totp/setup/", json!({})).await;
    let secret = set_up.body["secret"].as_str().unwrap().to_owned();
    let now = blockauth_tests::early_in_a_step().await;
    let code = blockauth_tests::totp_code(&secret, now);
    let confirmed = app
        .post_as(&token, "totp/confirm/", json!({"code": code}))
        .await;
    assert_eq!(confirmed.status, 200, "{:?}", confirmed.body);
    let by_password = app.log_in("ada@example.com", PASSWORD).await;
    assert_eq!(
        by_password.body["mfa_required"], true,
        "{:?}",
        by_password.body
    );
    let by_passkey = sign_in(&app, &mut authenticator, None).await;
    assert_eq!(by_passkey.status, 200, "{:?}", by_passkey.body);
    assert!(by_passkey.body["access"].is_string());
}
