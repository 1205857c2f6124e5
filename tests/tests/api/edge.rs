//! The HTTP edge: headers every answer carries, how bodies are read, the `Bearer` scheme,
//! the client IP that rate limits count, and answers to requests that are not HTTP.

use blockauth_tests::{PASSWORD, TestApp};
use serde_json::json;

#[tokio::test]
async fn every_answer_says_no_store() {
    let app = TestApp::start().await;
    // A code-sending answer, then a token answer.
    let sent = app
        .post(
            "signup/",
            json!({"email": "ada@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(sent.status, 200, "{:?}", sent.body);
    assert_eq!(sent.header("cache-control"), Some("no-store"));
    let code = app.code_for("ada@example.com");
    let tokens = app
        .post(
            "signup/confirm/",
            json!({"email": "ada@example.com", "otp": code}),
        )
        .await;
    assert_eq!(tokens.status, 200, "{:?}", tokens.body);
    assert!(tokens.body["access"].is_string());
    assert_eq!(tokens.header("cache-control"), Some("no-store"));
    // Errors: a field error, a 401, a 405, a 404 inside and outside the base path.
    let invalid = app.post("login/basic/", json!({})).await;
    assert_eq!(invalid.status, 400);
    let wrong = app
        .post(
            "login/basic/",
            json!({"email": "ada@example.com", "password": "wrong"}),
        )
        .await;
    assert_eq!(wrong.status, 401);
    let method = app.send(app.http.get(app.url("login/basic/"))).await;
    assert_eq!(method.status, 405);
    let missing = app.post("nothing/", json!({})).await;
    assert_eq!(missing.status, 404);
    let outside = app
        .send(app.http.get(format!("http://{}/", app.server.address)))
        .await;
    assert_eq!(outside.status, 404);
    for reply in [invalid, wrong, method, missing, outside] {
        assert_eq!(reply.header("cache-control"), Some("no-store"), "{reply:?}");
    }
}
