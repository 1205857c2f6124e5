//! The HTTP edge: headers every answer carries, how bodies are read, the `Bearer` scheme,
//! the client IP that rate limits count, and answers to requests that are not HTTP.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use blockauth_tests::{PASSWORD, TestApp};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tower::ServiceExt;

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

/// POSTs `body` to `path` with this `Content-Type`, or none.
async fn post_typed(
    app: &TestApp,
    path: &str,
    content_type: Option<&str>,
    body: &str,
) -> blockauth_tests::Reply {
    let mut request = app.http.post(app.url(path)).body(body.to_owned());
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    app.send(request).await
}

const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

#[tokio::test]
async fn forms_sign_up_and_log_in() {
    let app = TestApp::start().await;
    let password = "Correct+Horse%209%26Battery%3D"; // "Correct Horse 9&Battery="
    let sent = post_typed(
        &app,
        "signup/",
        FORM,
        &format!("email=Ada%40Example.com&password={password}"),
    )
    .await;
    assert_eq!(sent.status, 200, "{:?}", sent.body);
    let code = app.code_for("ada@example.com");
    let confirmed = post_typed(
        &app,
        "signup/confirm/",
        FORM,
        &format!("identifier=ada%40example.com&method=email&code={code}"),
    )
    .await;
    assert_eq!(confirmed.status, 200, "{:?}", confirmed.body);
    assert_eq!(confirmed.body["user"]["email"], "ada@example.com");
    // The form's password is the JSON one, decoded.
    let login = app
        .post(
            "login/basic/",
            json!({"email": "ada@example.com", "password": "Correct Horse 9&Battery="}),
        )
        .await;
    assert_eq!(login.status, 200, "{:?}", login.body);
    let login = post_typed(
        &app,
        "login/basic/",
        Some("Application/X-WWW-Form-URLEncoded; charset=UTF-8"),
        &format!("email=ada%40example.com&password={password}"),
    )
    .await;
    assert_eq!(login.status, 200, "{:?}", login.body);
    // Fields of a form are strings: a missing one is required, an empty one blank.
    let invalid = post_typed(&app, "login/basic/", FORM, "email=&unknown=1").await;
    assert_eq!(
        invalid.body,
        json!({"email": ["This field may not be blank."], "password": ["This field is required."]})
    );
    // A form that is not UTF-8 is refused, never read with its bytes replaced.
    let latin1 = post_typed(
        &app,
        "login/basic/",
        FORM,
        "email=ada%40example.com&password=%E9t%E9",
    )
    .await;
    assert_eq!(latin1.status, 400);
    assert_eq!(latin1.body["code"], "parse_error");
}

#[tokio::test]
async fn other_content_types_get_415() {
    let app = TestApp::start_with(|s| s.limits.request_limit = 1000).await;
    let body = r#"{"email": "ada@example.com", "password": "Correct-Horse-9-Battery"}"#;
    for content_type in [
        None,
        Some("text/plain"),
        Some("text/plain; charset=utf-8"),
        Some("multipart/form-data; boundary=x"),
        Some("application/xml"),
        Some("application/json; charset=iso-8859-1"),
    ] {
        for route in ["signup/", "login/basic/", "token/refresh/"] {
            let reply = post_typed(&app, route, content_type, body).await;
            assert_eq!(reply.status, 415, "{route} {content_type:?}");
            assert_eq!(reply.body["code"], "unsupported_media_type");
            assert!(reply.body["detail"].is_string());
        }
    }
    // Also an empty body without a type, and before the body's size is looked at.
    let empty = post_typed(&app, "login/basic/", None, "").await;
    assert_eq!(empty.status, 415);
    let huge = post_typed(
        &app,
        "login/basic/",
        Some("text/plain"),
        &"x".repeat(70_000),
    )
    .await;
    assert_eq!(huge.status, 415);
    // A protected route checks the token first, then the body's type.
    let login = app.sign_up("ada@example.com", PASSWORD).await;
    let token = blockauth_tests::access(&login);
    let protected = app
        .send(
            app.http
                .post(app.url("email/change/"))
                .bearer_auth(&token)
                .header("content-type", "text/plain")
                .body(r#"{"new_email": "grace@example.com"}"#),
        )
        .await;
    assert_eq!(protected.status, 415);
}

#[tokio::test]
async fn json_with_a_charset_is_json() {
    let app = TestApp::start().await;
    let body = format!(r#"{{"email": "ada@example.com", "password": "{PASSWORD}"}}"#);
    for content_type in [
        "application/json; charset=utf-8",
        "APPLICATION/JSON;charset=\"UTF-8\"",
    ] {
        let reply = post_typed(&app, "signup/", Some(content_type), &body).await;
        assert_eq!(reply.status, 200, "{content_type}: {:?}", reply.body);
    }
    // The limit and the shape still hold for both readers.
    let huge = format!(r#"{{"email": "{}"}}"#, "a".repeat(70_000));
    let reply = post_typed(&app, "signup/", Some("application/json"), &huge).await;
    assert_eq!(reply.status, 413);
    let reply = post_typed(
        &app,
        "signup/",
        FORM,
        &format!("email={}", "a".repeat(70_000)),
    )
    .await;
    assert_eq!(reply.status, 413);
    let reply = post_typed(&app, "signup/", Some("application/json"), "[1]").await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.body["code"], "parse_error");
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive() {
    let app = TestApp::start_with(|s| s.limits.request_limit = 1000).await;
    let login = app.sign_up("ada@example.com", PASSWORD).await;
    let token = blockauth_tests::access(&login);
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let reply = app
            .send(
                app.http
                    .post(app.url("email/change/"))
                    .header("authorization", format!("{scheme} {token}"))
                    .json(&json!({"new_email": "grace@example.com"})),
            )
            .await;
        assert_eq!(reply.status, 200, "{scheme}: {:?}", reply.body);
    }
    for value in [format!("Basic {token}"), format!("Bearer{token}"), token] {
        let reply = app
            .send(
                app.http
                    .post(app.url("email/change/"))
                    .header("authorization", &value)
                    .json(&json!({"new_email": "grace@example.com"})),
            )
            .await;
        assert_eq!(reply.status, 401, "{value}");
        assert_eq!(reply.body["code"], "not_authenticated");
    }
}

/// A failed login of ada from the socket peer `peer`: the server's own router, called
/// directly, since the test server listens on 127.0.0.1 only.
async fn login_from(app: &TestApp, peer: &str) -> u16 {
    let peer: SocketAddr = peer.parse().expect("a socket address");
    let body = json!({"email": "ada@example.com", "password": "wrong"});
    let mut request = Request::post(format!(
        "{}/login/basic/",
        app.server.context.settings.base_path
    ))
    .header("content-type", "application/json")
    .body(Body::from(body.to_string()))
    .expect("a request");
    request.extensions_mut().insert(ConnectInfo(peer));
    let router = blockauth_local::app(&app.server.context);
    let response = router.oneshot(request).await.expect("infallible");
    response.status().as_u16()
}

#[tokio::test]
async fn an_ipv6_client_counts_by_its_64() {
    let app = TestApp::start_with(|s| s.limits.request_limit = 1).await;
    assert_eq!(login_from(&app, "[2001:db8:1:2::1]:40000").await, 401);
    // Another address, another port, the same /64: the same budget, spent.
    assert_eq!(
        login_from(&app, "[2001:db8:1:2:ffff:ffff:ffff:fffe]:40001").await,
        429
    );
    assert_eq!(login_from(&app, "[2001:db8:1:2:0:0:0:2]:40002").await, 429);
    // The next /64 is another client.
    assert_eq!(login_from(&app, "[2001:db8:1:3::1]:40000").await, 401);
}

#[tokio::test]
async fn an_ipv4_mapped_client_is_its_ipv4_address() {
    let app = TestApp::start_with(|s| s.limits.request_limit = 1).await;
    // Over HTTP the peer is 127.0.0.1; through a dual-stack socket it is ::ffff:127.0.0.1.
    let over_http = app
        .post(
            "login/basic/",
            json!({"email": "ada@example.com", "password": "wrong"}),
        )
        .await;
    assert_eq!(over_http.status, 401);
    assert_eq!(login_from(&app, "[::ffff:127.0.0.1]:40000").await, 429);
    assert_eq!(login_from(&app, "127.0.0.2:40000").await, 401);
}

/// Sends `request` as it is on a new connection; everything the server writes until it
/// closes the connection.
async fn exchange(app: &TestApp, request: &[u8]) -> Vec<u8> {
    let talk = async {
        let stream = TcpStream::connect(app.server.address)
            .await
            .expect("connects");
        let mut written = 0;
        while written < request.len() {
            stream.writable().await.expect("writable");
            match stream.try_write(&request[written..]) {
                Ok(n) => written += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => panic!("write: {e}"),
            }
        }
        let mut answer = Vec::new();
        let mut buffer = [0u8; 4096];
        loop {
            stream.readable().await.expect("readable");
            match stream.try_read(&mut buffer) {
                Ok(0) => return answer,
                Ok(n) => answer.extend_from_slice(&buffer[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => panic!("read: {e}"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), talk)
        .await
        .expect("the server closes the connection")
}

/// One answer read off the wire.
#[derive(Debug)]
struct Raw {
    status: u16,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        let mut values = self.headers.iter().filter(|(n, _)| n == name);
        let value = values.next().map(|(_, v)| v.as_str());
        assert!(values.next().is_none(), "one {name}: {self:?}");
        value
    }
}

/// Every answer in `bytes`, each framed by its Content-Length, which must be exact.
fn answers(mut bytes: &[u8]) -> Vec<Raw> {
    let mut answers = Vec::new();
    while !bytes.is_empty() {
        let end = bytes
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("a head in {:?}", bytes.escape_ascii().to_string()));
        let head = std::str::from_utf8(&bytes[..end]).expect("an ASCII head");
        let mut lines = head.split("\r\n");
        let status_line = lines.next().expect("a status line");
        let status = status_line[9..12].parse().expect("a status");
        let headers: Vec<(String, String)> = lines
            .map(|line| {
                let (name, value) = line.split_once(':').expect("a header");
                (name.to_ascii_lowercase(), value.trim().to_owned())
            })
            .collect();
        let mut raw = Raw {
            status,
            headers,
            body: Value::Null,
        };
        let length: usize = raw
            .header("content-length")
            .expect("a content-length")
            .parse()
            .expect("a number");
        let body = &bytes[end + 4..];
        assert!(body.len() >= length, "{head}: {} bytes", body.len());
        raw.body = serde_json::from_slice(&body[..length]).expect("a JSON body");
        bytes = &body[length..];
        answers.push(raw);
    }
    answers
}

/// The one answer to `request`: a 4xx in the API's error shape, a JSON body.
async fn protocol_error(app: &TestApp, request: &[u8]) -> Raw {
    let mut all = answers(&exchange(app, request).await);
    assert_eq!(all.len(), 1, "{all:?}");
    let answer = all.remove(0);
    assert!((400..500).contains(&answer.status), "{answer:?}");
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    assert!(answer.body["detail"].is_string(), "{answer:?}");
    assert!(answer.body["code"].is_string(), "{answer:?}");
    answer
}

#[tokio::test]
async fn requests_that_are_not_http_get_json_errors() {
    let app = TestApp::start().await;
    let bad_length = protocol_error(
        &app,
        b"POST /auth/signup/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
          Content-Length: abc\r\n\r\n{}",
    )
    .await;
    assert_eq!(bad_length.status, 400);
    assert_eq!(bad_length.body["code"], "bad_request");

    let mut many = b"POST /auth/signup/ HTTP/1.1\r\nHost: x\r\n".to_vec();
    for i in 0..200 {
        many.extend(format!("X-Header-{i}: {i}\r\n").into_bytes());
    }
    many.extend(b"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}");
    let too_many = protocol_error(&app, &many).await;
    assert_eq!(too_many.status, 431);

    let huge = format!(
        "GET /auth/{} HTTP/1.1\r\nHost: x\r\n\r\n",
        "a".repeat(70_000)
    );
    let long = protocol_error(&app, huge.as_bytes()).await;
    assert_eq!(long.status, 414);

    let garbage = protocol_error(&app, b"NOT HTTP AT ALL\r\n\r\n").await;
    assert_eq!(garbage.status, 400);
    let two_lengths = protocol_error(
        &app,
        b"POST /auth/signup/ HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
    )
    .await;
    assert_eq!(two_lengths.status, 400);
}

#[tokio::test]
async fn a_protocol_error_after_a_good_request_keeps_both_answers() {
    let app = TestApp::start().await;
    let pipelined = b"POST /auth/signup/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
        Content-Length: 2\r\n\r\n{}\
        HEAD /auth/signup/ HTTP/1.1\r\nHost: x\r\n\r\n\
        POST /auth/signup/ HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n";
    let bytes = exchange(&app, pipelined).await;
    // The HEAD answer has a Content-Length and no body: cut it out before framing.
    let text = String::from_utf8(bytes).expect("ASCII");
    let head_at = text.find("HTTP/1.1 405").expect("the HEAD answer");
    let head_end = head_at + text[head_at..].find("\r\n\r\n").expect("its end") + 4;
    assert!(text[head_at..head_end].contains("content-length: "));
    let framed = format!("{}{}", &text[..head_at], &text[head_end..]);
    let all = answers(framed.as_bytes());
    assert_eq!(all.len(), 2, "{all:?}");
    assert_eq!(all[0].status, 400);
    assert_eq!(
        all[0].body,
        json!({"email": ["This field is required."], "password": ["This field is required."]})
    );
    assert_eq!(all[1].status, 400);
    assert_eq!(all[1].body["code"], "bad_request");
    assert_eq!(all[1].header("connection"), Some("close"));
}
