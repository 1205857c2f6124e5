//! Answers to requests that are not HTTP, in the API's error shape.
//!
//! hyper answers a request it cannot parse (a bad `Content-Length`, too many or too large
//! headers, a malformed request line, an overlong URI) by itself, before any service sees
//! it, with an empty body, and has no hook to change that answer. A custom accept loop
//! could only avoid it by parsing every request head before hyper does, a second HTTP
//! parser to keep in step with hyper's. Instead each connection's IO is wrapped and the one
//! answer is recognised as it is written: the last bytes hyper writes before closing are a
//! head with a 4xx status, `connection: close`, `content-length: 0` and no `content-type`.
//! No answer of the API looks like that, since every one has a JSON body (a 204 has no
//! `content-length` at all, a HEAD answer the length of the body it omits), so the wrapper
//! writes the same status with a JSON body in its place and passes everything else through.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::serve::Listener;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A listener whose connections answer protocol errors in JSON.
pub struct JsonProtocolErrors<L>(pub L);

impl<L: Listener> Listener for JsonProtocolErrors<L> {
    type Io = JsonErrorIo<L::Io>;
    type Addr = L::Addr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (io, address) = self.0.accept().await;
        (
            JsonErrorIo {
                inner: io,
                owed: Vec::new(),
                sent: 0,
            },
            address,
        )
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

/// A connection's IO that writes hyper's own error answer as JSON.
pub struct JsonErrorIo<T> {
    inner: T,
    /// Bytes taken from hyper (reported written) that the connection still owes its peer.
    owed: Vec<u8>,
    sent: usize,
}

impl<T: AsyncWrite + Unpin> JsonErrorIo<T> {
    fn poll_owed(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.owed.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.owed[self.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for JsonErrorIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

// Not vectored (the default), so that hyper hands over each answer in one buffer.
impl<T: AsyncWrite + Unpin> AsyncWrite for JsonErrorIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_owed(cx))?;
        if let Some(start) = hyper_error_answer(buf) {
            // Any answer before it (a pipelined request's) goes out as it is; hyper
            // flushes and shuts down next, which sends what is owed.
            let mut owed = buf[..start].to_vec();
            owed.extend(json_answer(&buf[start..]));
            self.owed = owed;
            self.sent = 0;
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_owed(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_owed(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Where hyper's own error answer starts in `buf`, if `buf` ends with one: a whole head
/// (the last one, after which nothing follows) with a 4xx status, `connection: close`,
/// `content-length: 0` and no `content-type`.
fn hyper_error_answer(buf: &[u8]) -> Option<usize> {
    if !buf.ends_with(b"\r\n\r\n") {
        return None;
    }
    let start = buf
        .windows(10)
        .rposition(|w| w.starts_with(b"HTTP/1.1 4"))?;
    let head = std::str::from_utf8(&buf[start..buf.len() - 4]).ok()?;
    if head.contains("\r\n\r\n") {
        return None;
    }
    let mut lines = head.split("\r\n");
    let status = lines.next()?;
    if !status.as_bytes().get(9..12)?.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let (mut close, mut empty) = (false, false);
    for line in lines {
        let (name, value) = line.split_once(':')?;
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "connection" => close = value.eq_ignore_ascii_case("close"),
            "content-length" => empty = value == "0",
            "content-type" | "transfer-encoding" => return None,
            _ => {}
        }
    }
    (close && empty).then_some(start)
}

/// hyper's answer `head` with a JSON body in the API's error shape (as `AuthError::body`),
/// the same status and date, and the headers every answer of the API has.
fn json_answer(head: &[u8]) -> Vec<u8> {
    let head = String::from_utf8_lossy(head);
    let mut lines = head.split("\r\n").filter(|line| !line.is_empty());
    let status_line = lines.next().unwrap_or("HTTP/1.1 400 Bad Request");
    let (code, detail) = match status_line.get(9..12) {
        Some("431") => (
            "request_header_fields_too_large",
            "The request has too many headers, or too large ones.",
        ),
        Some("414") => ("uri_too_long", "The request's URI is too long."),
        _ => ("bad_request", "The request is not valid HTTP/1.1."),
    };
    let body = serde_json::json!({ "detail": detail, "code": code }).to_string();
    let mut answer = format!(
        "{status_line}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         cache-control: no-store\r\n",
        body.len()
    );
    for line in lines.filter(|line| !line.to_ascii_lowercase().starts_with("content-length:")) {
        answer.push_str(line);
        answer.push_str("\r\n");
    }
    answer.push_str("\r\n");
    answer.push_str(&body);
    answer.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYPER_400: &[u8] = b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\
        content-length: 0\r\ndate: Mon, 30 Nov 2026 08:21:36 GMT\r\n\r\n";

    #[test]
    fn only_hypers_own_answer_is_replaced() {
        assert_eq!(hyper_error_answer(HYPER_400), Some(0));
        let ours = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n\
            content-length: 2\r\ndate: Mon, 30 Nov 2026 08:21:36 GMT\r\n\r\n{}";
        let pipelined = [&ours[..], HYPER_400].concat();
        assert_eq!(hyper_error_answer(&pipelined), Some(ours.len()));
        assert_eq!(hyper_error_answer(ours), None);
        // A head of ours, written before its body, is never taken for it.
        assert_eq!(hyper_error_answer(&ours[..ours.len() - 2]), None);
        for head in [
            &b"HTTP/1.1 100 Continue\r\n\r\n"[..],
            b"HTTP/1.1 204 No Content\r\ndate: x\r\n\r\n",
            b"HTTP/1.1 405 Method Not Allowed\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
        ] {
            assert_eq!(hyper_error_answer(head), None, "{}", head.escape_ascii());
        }
    }

    #[test]
    fn the_answer_is_json_with_a_correct_length() {
        let answer = String::from_utf8(json_answer(HYPER_400)).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{head}");
        assert!(head.contains("\r\ncontent-type: application/json\r\n"));
        assert!(head.contains(&format!("\r\ncontent-length: {}\r\n", body.len())));
        assert!(head.contains("\r\nconnection: close"));
        assert!(head.contains("\r\ndate: Mon, 30 Nov 2026 08:21:36 GMT"));
        assert!(!head.contains("content-length: 0"));
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["code"], "bad_request");
        assert!(body["detail"].is_string());
    }
}
