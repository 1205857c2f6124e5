//! Bad input of every kind gets a 4xx with the documented shape: never a 500.

use blockauth_tests::TestApp;
use serde_json::{Value, json};

const ROUTES: [&str; 11] = [
    "signup/",
    "signup/otp/resend/",
    "signup/confirm/",
    "login/basic/",
    "login/passwordless/",
    "login/passwordless/confirm/",
    "token/refresh/",
    "token/revoke/",
    "password/reset/",
    "password/reset/confirm/",
    "email/change/confirm/",
];

fn assert_drf_shape(body: &Value) {
    let object = body.as_object().expect("a JSON object");
    if object.contains_key("detail") {
        assert!(
            object["detail"].is_string() && object["code"].is_string(),
            "{body}"
        );
    } else {
        assert!(!object.is_empty());
        for (_, messages) in object {
            assert!(
                messages
                    .as_array()
                    .is_some_and(|m| m.iter().all(Value::is_string)),
                "{body}"
            );
        }
    }
}

#[tokio::test]
async fn bodies_that_are_not_json_objects_get_400() {
    let app = TestApp::start_with(|s| s.limits.request_limit = 1000).await;
    for route in ROUTES {
        for raw in [
            &b""[..],
            b"not json",
            b"[1,2]",
            b"\"text\"",
            b"null",
            b"{\"email\":",
            b"\xff\xfe",
        ] {
            let reply = app.post_raw(route, raw.to_vec()).await;
            assert_eq!(reply.status, 400, "{route} {raw:?}");
            assert_eq!(reply.body["code"], "parse_error");
        }
    }
}

#[tokio::test]
async fn wrong_types_and_missing_fields_are_field_errors() {
    let app = TestApp::start_with(|s| s.limits.request_limit = 1000).await;
    let bodies = [
        json!({}),
        json!({"email": 42, "password": ["x"]}),
        json!({"email": null, "otp": {"a": 1}}),
        json!({"email": true, "refresh": 1.5}),
        json!({"email": "", "password": "", "otp": "", "refresh": ""}),
        json!({"email": "not-an-email", "password": "x", "otp": "1", "refresh": "x"}),
        json!({"email": "ünï@cødé.example", "password": "пароль-Пароль-1", "otp": "١٢٣٤٥٦"}),
        json!({"identifier": "ada@example.com", "method": "pigeon"}),
        json!({"phone": "555-0100"}),
        json!({"email": "a".repeat(5000) + "@example.com", "password": "p".repeat(5000)}),
    ];
    for route in ROUTES {
        for body in &bodies {
            let reply = app.post(route, body.clone()).await;
            assert!(
                (400..500).contains(&reply.status),
                "{route} {body}: {} {:?}",
                reply.status,
                reply.body
            );
            assert_drf_shape(&reply.body);
        }
    }
}

#[tokio::test]
async fn a_missing_field_says_which() {
    let app = TestApp::start().await;
    let reply = app.post("signup/", json!({})).await;
    assert_eq!(
        reply.body,
        json!({"email": ["This field is required."], "password": ["This field is required."]})
    );
    let reply = app.post("signup/confirm/", json!({"email": "nope"})).await;
    assert_eq!(
        reply.body,
        json!({"email": ["Enter a valid email address."], "otp": ["This field is required."]})
    );
    let reply = app.post("token/refresh/", json!({"refresh": 7})).await;
    assert_eq!(reply.body, json!({"refresh": ["Not a valid string."]}));
}

#[tokio::test]
async fn bodies_over_64_kib_get_413() {
    let app = TestApp::start().await;
    let megabyte = format!("{{\"email\": \"{}\"}}", "a".repeat(1 << 20));
    for route in ROUTES {
        let reply = app.post_raw(route, megabyte.clone().into_bytes()).await;
        assert_eq!(reply.status, 413, "{route}");
        assert_eq!(reply.body["code"], "request_too_large");
    }
    let just_under = format!("{{\"email\": \"{}\"}}", "a".repeat(60 * 1024));
    let reply = app.post_raw("signup/", just_under.into_bytes()).await;
    assert_eq!(reply.status, 400);
}

#[tokio::test]
async fn wrong_methods_and_unknown_paths() {
    let app = TestApp::start().await;
    for route in ROUTES {
        let reply = app.send(app.http.get(app.url(route))).await;
        assert_eq!(reply.status, 405, "{route}");
        assert_eq!(reply.body["code"], "method_not_allowed");
    }
    for path in ["nothing/", "signup/extra/", "../signup/"] {
        let reply = app.post(path, json!({})).await;
        assert_eq!(reply.status, 404, "{path}");
    }
    let outside = app
        .send(
            app.http
                .post(format!("http://{}/signup/", app.server.address))
                .json(&json!({})),
        )
        .await;
    assert_eq!(outside.status, 404);
}

#[tokio::test]
async fn garbage_tokens_get_401() {
    let app = TestApp::start().await;
    for token in [
        "x",
        "a.b.c",
        &"eyJ".repeat(1000),
        "eyJhbGciOiJIUzI1NiJ9.eyJ0eXBlIjoicmVmcmVzaCJ9.AAAA",
    ] {
        for route in ["token/refresh/", "token/revoke/"] {
            let reply = app.post(route, json!({"refresh": token})).await;
            assert_eq!(reply.status, 401, "{route} {token}");
            assert_eq!(reply.body["code"], "token_not_valid");
        }
    }
}

#[tokio::test]
async fn protected_routes_read_bodies_after_the_token() {
    let app = TestApp::start_with(|s| s.limits.request_limit = 1000).await;
    let login = app
        .sign_up("ada@example.com", blockauth_tests::PASSWORD)
        .await;
    let token = blockauth_tests::access(&login);
    for route in ["password/change/", "email/change/"] {
        for raw in [
            &b"not json"[..],
            b"[]",
            b"{\"new_email\": 1, \"new_password\": []}",
            b"{}",
        ] {
            let reply = app
                .send(
                    app.http
                        .post(app.url(route))
                        .bearer_auth(&token)
                        .header("content-type", "application/json")
                        .body(raw.to_vec()),
                )
                .await;
            assert_eq!(reply.status, 400, "{route} {raw:?}: {:?}", reply.body);
            assert_drf_shape(&reply.body);
        }
        let huge = vec![b' '; 70 * 1024];
        let reply = app
            .send(
                app.http
                    .post(app.url(route))
                    .bearer_auth(&token)
                    .header("content-type", "application/json")
                    .body(huge),
            )
            .await;
        assert_eq!(reply.status, 413, "{route}");
    }
}
