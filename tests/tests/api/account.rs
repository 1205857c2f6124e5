//! Account self-service: the user, its sessions (listed, one ended, all others ended),
//! the export, deletion with a fresh sign-in (and what a deleted account leaves: nothing
//! that signs in, identifiers free for a new account), and a wallet on any account.

use std::sync::Arc;

use blockauth_tests::wallet::{TestWallet, wallet_login};
use blockauth_tests::{PASSWORD, Reply, TestApp, access, claims, parallel, refresh};
use serde_json::{Value, json};

/// A server whose per-route limit leaves room for a test's many requests.
async fn start() -> TestApp {
    TestApp::start_with(|s| s.limits.request_limit = 100).await
}

/// `login/basic/` as a browser that says `agent`.
async fn log_in_as(app: &TestApp, email: &str, agent: &str) -> Reply {
    let request = app
        .http
        .post(app.url("login/basic/"))
        .header("user-agent", agent)
        .json(&json!({"email": email, "password": PASSWORD}));
    let reply = app.send(request).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply
}

fn sid(token: &str) -> String {
    claims(token)["sid"].as_str().expect("a sid").to_owned()
}

async fn sessions(app: &TestApp, token: &str) -> Vec<Value> {
    let listed = app.get_as(token, "sessions/").await;
    assert_eq!(listed.status, 200, "{:?}", listed.body);
    listed.body["sessions"].as_array().expect("a list").clone()
}

#[tokio::test]
async fn me_is_the_callers_user_and_needs_a_token() {
    let app = start().await;
    let signed_up = app.sign_up("ada@example.com", PASSWORD).await;
    let me = app.get_as(&access(&signed_up), "me/").await;
    assert_eq!(me.status, 200, "{:?}", me.body);
    assert_eq!(me.body, signed_up.body["user"]);
    assert_eq!(me.header("cache-control"), Some("no-store"));
    let without = app.send(app.http.get(app.url("me"))).await;
    assert_eq!(without.status, 401);
    // A refresh token is not an access token.
    assert_eq!(app.get_as(&refresh(&signed_up), "me/").await.status, 401);
}

#[tokio::test]
async fn sessions_say_how_when_and_from_where_and_end_one_at_a_time() {
    let app = start().await;
    let first = app.sign_up("ada@example.com", PASSWORD).await;
    let phone = log_in_as(&app, "ada@example.com", "Phone/1.0").await;
    let laptop = log_in_as(&app, "ada@example.com", "Laptop\t/2.0").await;
    let listed = sessions(&app, &access(&laptop)).await;
    assert_eq!(listed.len(), 3, "{listed:?}");
    let current: Vec<&Value> = listed.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["sid"], sid(&access(&laptop)));
    // Control characters are dropped from what the client said.
    assert_eq!(current[0]["user_agent"], "Laptop/2.0");
    assert_eq!(current[0]["method"], "EMAIL");
    assert_eq!(current[0]["ip"], "127.0.0.1");
    assert!(current[0]["created_at"].as_str().unwrap().ends_with('Z'));
    let phone_sid = sid(&access(&phone));
    let phone_view = listed.iter().find(|s| s["sid"] == phone_sid).unwrap();
    assert_eq!(phone_view["user_agent"], "Phone/1.0");

    // A refresh moves last_used_at; the most recently used comes first.
    let before = phone_view["last_used_at"].clone();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let refreshed = app
        .post("token/refresh/", json!({"refresh": refresh(&phone)}))
        .await;
    assert_eq!(refreshed.status, 200);
    let listed = sessions(&app, &access(&laptop)).await;
    let phone_view = listed.iter().find(|s| s["sid"] == phone_sid).unwrap();
    assert_ne!(phone_view["last_used_at"], before);
    assert_eq!(listed[0]["sid"], phone_sid.as_str());

    // Ending the phone's session ends its tokens, old and new, at once.
    let path = format!("sessions/{phone_sid}/");
    let ended = app.delete_as(&access(&laptop), &path).await;
    assert_eq!(ended.status, 204, "{:?}", ended.body);
    assert_eq!(app.get_as(&access(&refreshed), "me/").await.status, 401);
    let again = app
        .post("token/refresh/", json!({"refresh": refresh(&refreshed)}))
        .await;
    assert_eq!(again.status, 401);
    assert_eq!(app.delete_as(&access(&laptop), &path).await.status, 404);
    assert_eq!(sessions(&app, &access(&first)).await.len(), 2);
    let logouts: Vec<Value> = app
        .events()
        .into_iter()
        .filter(|e| e["type"] == "logout" && e["sid"] == phone_sid)
        .collect();
    assert_eq!(logouts.len(), 1);
}

#[tokio::test]
async fn another_users_session_is_not_found_and_goes_on() {
    let app = start().await;
    let ada = app.sign_up("ada@example.com", PASSWORD).await;
    let eve = app.sign_up("eve@example.com", PASSWORD).await;
    let path = format!("sessions/{}/", sid(&access(&ada)));
    let refused = app.delete_as(&access(&eve), &path).await;
    assert_eq!(refused.status, 404, "{:?}", refused.body);
    assert_eq!(app.get_as(&access(&ada), "me/").await.status, 200);
    // Whatever the path holds: never a 500.
    for path in [
        "sessions/%00/",
        "sessions/..%2F..%2Fme/",
        &format!("sessions/{}/", "x".repeat(500)),
    ] {
        let reply = app.delete_as(&access(&eve), path).await;
        assert!(
            matches!(reply.status, 404 | 400),
            "{path}: {}",
            reply.status
        );
    }
}

#[tokio::test]
async fn revoke_all_ends_every_other_session_and_keeps_the_callers() {
    let app = start().await;
    let first = app.sign_up("ada@example.com", PASSWORD).await;
    let second = log_in_as(&app, "ada@example.com", "Two").await;
    let third = log_in_as(&app, "ada@example.com", "Three").await;
    let ended = app
        .post_as(&access(&third), "sessions/revoke-all/", json!({}))
        .await;
    assert_eq!(ended.status, 204, "{:?}", ended.body);
    for gone in [&first, &second] {
        assert_eq!(app.get_as(&access(gone), "me/").await.status, 401);
        let refreshed = app
            .post("token/refresh/", json!({"refresh": refresh(gone)}))
            .await;
        assert_eq!(refreshed.status, 401);
    }
    let listed = sessions(&app, &access(&third)).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["current"], true);
    // An ended session is not the account's any more: ending it again is 404.
    let path = format!("sessions/{}/", sid(&access(&second)));
    assert_eq!(app.delete_as(&access(&third), &path).await.status, 404);
    // The caller's session goes on, refresh included.
    let refreshed = app
        .post("token/refresh/", json!({"refresh": refresh(&third)}))
        .await;
    assert_eq!(refreshed.status, 200, "{:?}", refreshed.body);
    assert_eq!(app.get_as(&access(&refreshed), "me/").await.status, 200);
    let events = app.events();
    assert!(events.iter().any(|e| e["type"] == "sessions.ended"));
}

#[tokio::test]
async fn the_export_holds_what_is_stored_and_no_secret() {
    let app = start().await;
    let signed_up = app.sign_up("ada@example.com", PASSWORD).await;
    let token = access(&signed_up);
    let export = app.get_as(&token, "me/export/").await;
    assert_eq!(export.status, 200, "{:?}", export.body);
    assert_eq!(export.body["user"], signed_up.body["user"]);
    assert_eq!(export.body["sessions"].as_array().unwrap().len(), 1);
    assert_eq!(export.body["familiar_networks"], 1);
    assert_eq!(export.body["passkeys"], json!([]));
    let text = export.body.to_string();
    for secret in ["argon2", "password", "hash", &token, &refresh(&signed_up)] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
}

#[tokio::test]
async fn deleting_needs_a_fresh_sign_in_and_leaves_nothing_that_signs_in() {
    let app = start().await;
    let signed_up = app.sign_up("ada@example.com", PASSWORD).await;
    let user_id = signed_up.body["user"]["id"].as_str().unwrap().to_owned();
    let other = log_in_as(&app, "ada@example.com", "Other").await;

    let stale = app.issued_earlier(&access(&signed_up), 301);
    let refused = app.delete_as(&stale, "me/").await;
    assert_eq!(refused.status, 403, "{:?}", refused.body);
    assert_eq!(refused.body["code"], "reauthentication_required");
    assert_eq!(app.get_as(&stale, "me/").await.status, 200);

    let deleted = app.delete_as(&access(&signed_up), "me/").await;
    assert_eq!(deleted.status, 204, "{:?}", deleted.body);
    for reply in [&signed_up, &other] {
        assert_eq!(app.get_as(&access(reply), "me/").await.status, 401);
        let refreshed = app
            .post("token/refresh/", json!({"refresh": refresh(reply)}))
            .await;
        assert_eq!(refreshed.status, 401);
    }
    assert_eq!(app.log_in("ada@example.com", PASSWORD).await.status, 401);
    let notice = app.messages_to("ada@example.com");
    assert!(notice.last().unwrap().contains("was deleted"), "{notice:?}");
    assert!(
        app.events()
            .iter()
            .any(|e| e["type"] == "account.deleted" && e["user_id"] == user_id.as_str())
    );
    // Nothing of it is left in its partition.
    let left = app
        .server
        .context
        .store
        .query_partition(&format!("USER#{user_id}"))
        .await
        .unwrap();
    assert!(left.is_empty(), "{left:?}");

    // The address signs up again, as a new account.
    let again = app.sign_up("ada@example.com", PASSWORD).await;
    assert_ne!(again.body["user"]["id"], user_id.as_str());
    assert_eq!(app.get_as(&access(&signed_up), "me/").await.status, 401);
}

#[tokio::test]
async fn deletion_racing_logins_leaves_no_account_and_no_working_token() {
    let app = Arc::new(start().await);
    let signed_up = app.sign_up("ada@example.com", PASSWORD).await;
    let user_id = signed_up.body["user"]["id"].as_str().unwrap().to_owned();
    let token = access(&signed_up);
    let replies = parallel(9, |i| {
        let (app, token) = (app.clone(), token.clone());
        async move {
            if i == 4 {
                app.delete_as(&token, "me/").await
            } else {
                app.log_in("ada@example.com", PASSWORD).await
            }
        }
    })
    .await;
    let deletion = &replies[4];
    let deleted = match deletion.status {
        204 => true,
        // A login changed the account between deletion's read and its write.
        409 => false,
        other => panic!("deletion answered {other}: {:?}", deletion.body),
    };
    for (i, reply) in replies.iter().enumerate().filter(|(i, _)| *i != 4) {
        assert!(matches!(reply.status, 200 | 401 | 409), "{i}: {reply:?}");
        if deleted && reply.status == 200 {
            // Signed in before the deletion: its session went with the account.
            assert_eq!(app.get_as(&access(reply), "me/").await.status, 401, "{i}");
        }
    }
    let user = blockauth::identity::user::get(&app.server.context, &user_id)
        .await
        .unwrap();
    assert_eq!(user.is_none(), deleted);
    if !deleted {
        // Asked again, with no login in between, it goes through.
        assert_eq!(app.delete_as(&token, "me/").await.status, 204);
    }
    assert_eq!(app.log_in("ada@example.com", PASSWORD).await.status, 401);
    app.sign_up("ada@example.com", PASSWORD).await;
}

/// A link challenge for `wallet`, asked by the account of `token`: the message.
async fn link_challenge(app: &TestApp, token: &str, wallet: &TestWallet) -> String {
    let reply = app
        .post_as(
            token,
            "wallet/link/challenge/",
            json!({"address": wallet.address}),
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply.body["message"].as_str().unwrap().to_owned()
}

async fn link(app: &TestApp, token: &str, message: &str, wallet: &TestWallet) -> Reply {
    app.post_as(
        token,
        "wallet/link/",
        json!({"message": message, "signature": wallet.sign(message)}),
    )
    .await
}

#[tokio::test]
async fn a_wallet_links_to_one_account_by_a_challenge_bound_to_it() {
    let app = start().await;
    let ada = access(&app.sign_up("ada@example.com", PASSWORD).await);
    let eve = access(&app.sign_up("eve@example.com", PASSWORD).await);
    let wallet = TestWallet::number(41);

    // Ada's challenge, signed, links nothing for Eve.
    let message = link_challenge(&app, &ada, &wallet).await;
    assert!(message.contains("Link this wallet to your"), "{message}");
    let stolen = link(&app, &eve, &message, &wallet).await;
    assert_eq!(stolen.status, 401, "{:?}", stolen.body);
    assert_eq!(stolen.body["code"], "nonce_invalid");
    // Nor does it sign anybody in.
    let login = blockauth_tests::wallet::login(&app, &message, &wallet.sign(&message)).await;
    assert_eq!(login.status, 401, "{:?}", login.body);
    // A sign-in challenge links nothing.
    let sign_in = blockauth_tests::wallet::challenge(&app, &wallet).await;
    assert_eq!(link(&app, &ada, &sign_in, &wallet).await.status, 401);
    // Signed by another wallet: refused.
    let message = link_challenge(&app, &ada, &wallet).await;
    let forged = app
        .post_as(
            &ada,
            "wallet/link/",
            json!({"message": message, "signature": TestWallet::number(42).sign(&message)}),
        )
        .await;
    assert_eq!(forged.status, 401, "{:?}", forged.body);

    let message = link_challenge(&app, &ada, &wallet).await;
    let linked = link(&app, &ada, &message, &wallet).await;
    assert_eq!(linked.status, 200, "{:?}", linked.body);
    assert_eq!(
        linked.body["user"]["wallet_address"],
        wallet.address.as_str()
    );
    let types = linked.body["user"]["authentication_types"]
        .as_array()
        .unwrap();
    assert!(types.contains(&json!("WALLET")), "{types:?}");
    // Once.
    assert_eq!(link(&app, &ada, &message, &wallet).await.status, 401);
    // The wallet now signs in to Ada's account.
    let signed_in = wallet_login(&app, &wallet).await;
    assert_eq!(signed_in.status, 200);
    assert_eq!(signed_in.body["user"]["id"], linked.body["user"]["id"]);
    // Eve cannot take it.
    let message = link_challenge(&app, &eve, &wallet).await;
    let taken = link(&app, &eve, &message, &wallet).await;
    assert_eq!(taken.status, 409, "{:?}", taken.body);
    assert_eq!(taken.body["code"], "wallet_taken");
    // Ada has one wallet.
    let another = TestWallet::number(43);
    let refused = app
        .post_as(
            &ada,
            "wallet/link/challenge/",
            json!({"address": another.address}),
        )
        .await;
    assert_eq!(refused.status, 409);
    assert_eq!(refused.body["code"], "wallet_exists");
    assert!(app.events().iter().any(|e| e["type"] == "wallet.linked"));
}

#[tokio::test]
async fn parallel_links_of_one_wallet_give_it_to_one_account() {
    let app = Arc::new(start().await);
    let wallet = TestWallet::number(44);
    let mut tokens = Vec::new();
    let mut messages = Vec::new();
    for i in 0..6 {
        let token = access(&app.sign_up(&format!("u{i}@example.com"), PASSWORD).await);
        messages.push(link_challenge(&app, &token, &wallet).await);
        tokens.push(token);
    }
    let replies = parallel(6, |i| {
        let (app, token, message) = (app.clone(), tokens[i].clone(), messages[i].clone());
        let wallet = TestWallet::number(44);
        async move { link(&app, &token, &message, &wallet).await }
    })
    .await;
    let linked = replies.iter().filter(|r| r.status == 200).count();
    assert_eq!(linked, 1, "{replies:?}");
    assert!(
        replies.iter().all(|r| matches!(r.status, 200 | 409)),
        "{replies:?}"
    );
}

#[tokio::test]
async fn unlinking_leaves_a_way_in_or_is_refused() {
    let app = start().await;
    let wallet = TestWallet::number(45);
    // A wallet-only account: its wallet is its only way in.
    let only = wallet_login(&app, &wallet).await;
    assert_eq!(only.status, 200);
    let refused = app
        .post_as(
            &access(&only),
            "wallet/unlink/",
            json!({"address": wallet.address}),
        )
        .await;
    assert_eq!(refused.status, 409, "{:?}", refused.body);
    assert_eq!(refused.body["code"], "last_way_in");
    assert_eq!(wallet_login(&app, &wallet).await.status, 200);

    // An account with a password and a linked wallet may let the wallet go.
    let other = TestWallet::number(46);
    let ada = access(&app.sign_up("ada@example.com", PASSWORD).await);
    let message = link_challenge(&app, &ada, &other).await;
    let linked = link(&app, &ada, &message, &other).await;
    assert_eq!(linked.status, 200);
    let wrong = app
        .post_as(&ada, "wallet/unlink/", json!({"address": wallet.address}))
        .await;
    assert_eq!(wrong.status, 404, "{:?}", wrong.body);
    let unlinked = app
        .post_as(&ada, "wallet/unlink/", json!({"address": other.address}))
        .await;
    assert_eq!(unlinked.status, 200, "{:?}", unlinked.body);
    assert_eq!(unlinked.body["user"]["wallet_address"], Value::Null);
    let types = unlinked.body["user"]["authentication_types"]
        .as_array()
        .unwrap();
    assert!(!types.contains(&json!("WALLET")), "{types:?}");
    // The wallet is free: it signs in to an account of its own now.
    let own = wallet_login(&app, &other).await;
    assert_eq!(own.status, 200);
    assert_ne!(own.body["user"]["id"], linked.body["user"]["id"]);
    assert!(app.events().iter().any(|e| e["type"] == "wallet.unlinked"));
}

#[tokio::test]
async fn a_deleted_wallet_account_frees_its_wallet() {
    let app = start().await;
    let wallet = TestWallet::number(47);
    let first = wallet_login(&app, &wallet).await;
    let deleted = app.delete_as(&access(&first), "me/").await;
    assert_eq!(deleted.status, 204, "{:?}", deleted.body);
    let again = wallet_login(&app, &wallet).await;
    assert_eq!(again.status, 200, "{:?}", again.body);
    assert_ne!(again.body["user"]["id"], first.body["user"]["id"]);
}
