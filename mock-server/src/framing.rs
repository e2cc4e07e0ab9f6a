//! What the hub answers to a request HTTP itself cannot parse (a broken request line or header,
//! a duplicate or negative `Content-Length`, a URI or header block over hyper's limits).
//!
//! hyper answers those before any router runs, with a status (400, 414 or 431) and an empty
//! body, then closes the connection. A vendor's client then sees a bare status where every other
//! refusal of the hub is a JSON error object with a code and messages in Japanese and English
//! (issue 9 point 14). hyper offers no hook for that answer, so [`JsonFramingErrors`] wraps the
//! connection's stream and recognises hyper's automatic answer as it is written — a status line
//! of 400, 414 or 431 and a head with no `Content-Type` and no body, which no interface of the hub
//! ever writes (they answer every refusal with a JSON body) — and writes in its place the same
//! status with the interface's error object (`BAD_REQUEST`) and `Connection: close`.
//! Reads pass through unchanged.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::error::{Code, HubError};

/// Renders a refusal as the body of an interface's error answer (JSON).
pub type RenderError = fn(&HubError) -> Vec<u8>;

/// The statuses hyper answers by itself on a request it cannot parse.
const AUTOMATIC: &[u16] = &[400, 414, 431];

/// A connection stream whose writes of hyper's automatic parse-error answers are replaced by the
/// interface's JSON error answer (see the module comment). hyper writes an answer's head as one
/// buffer (as the only non-empty one of a vectored write when it has no body), and calls again
/// with the same bytes while a write is pending.
pub struct JsonFramingErrors<T> {
    inner: T,
    render: RenderError,
    /// The answer being written in place of hyper's, how much of it is written, and the length of
    /// hyper's buffer it replaces (reported written once the whole replacement is).
    replacing: Option<(Vec<u8>, usize, usize)>,
}

impl<T> JsonFramingErrors<T> {
    pub fn new(inner: T, render: RenderError) -> Self {
        Self {
            inner,
            render,
            replacing: None,
        }
    }
}

/// The refusal for an automatic answer of `status`.
fn refusal(status: u16) -> HubError {
    let (ja, en) = match status {
        414 => (
            "要求のURLが長すぎます。",
            "the request's URL is longer than the exchange reads",
        ),
        431 => (
            "要求のヘッダーが大きすぎます。",
            "the request's headers are larger than the exchange reads",
        ),
        _ => (
            "要求をHTTPとして読めません（要求行・ヘッダー・Content-Lengthの誤り）。",
            "the request is not valid HTTP/1.1 (its request line, a header or its Content-Length is malformed)",
        ),
    };
    let mut e = HubError::new(Code::BadRequest, ja, en);
    e.status = status;
    e
}

/// When `buf` is exactly one of hyper's automatic answers, the answer to write instead.
pub fn replacement(buf: &[u8], render: RenderError) -> Option<Vec<u8>> {
    let rest = buf.strip_prefix(b"HTTP/1.1 ")?;
    let status: u16 = std::str::from_utf8(rest.get(..3)?).ok()?.parse().ok()?;
    if !AUTOMATIC.contains(&status) || !buf.ends_with(b"\r\n\r\n") {
        return None;
    }
    let head = std::str::from_utf8(&buf[..buf.len() - 4]).ok()?;
    if head.contains("\r\n\r\n") {
        return None; // a body follows: not hyper's bare answer
    }
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let mut kept = Vec::new();
    for line in lines {
        let name = line
            .split(':')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match name.as_str() {
            "content-type" | "transfer-encoding" => return None,
            "content-length" if line.split(':').nth(1).map(str::trim) != Some("0") => {
                return None;
            }
            "content-length" | "connection" => {}
            _ => kept.push(line),
        }
    }
    let body = render(&refusal(status));
    let mut out = Vec::with_capacity(body.len() + 256);
    out.extend_from_slice(status_line.as_bytes());
    out.extend_from_slice(b"\r\n");
    for line in kept {
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"content-type: application/json\r\nconnection: close\r\n");
    out.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
    out.extend_from_slice(&body);
    Some(out)
}

impl<T: AsyncRead + Unpin> AsyncRead for JsonFramingErrors<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for JsonFramingErrors<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.replacing.is_none() {
            match replacement(buf, this.render) {
                Some(answer) => this.replacing = Some((answer, 0, buf.len())),
                None => return Pin::new(&mut this.inner).poll_write(cx, buf),
            }
        }
        // hyper calls again with the same buffer while this returns Pending.
        let (answer, written, replaced) = this.replacing.as_mut().expect("set above");
        while *written < answer.len() {
            match Pin::new(&mut this.inner).poll_write(cx, &answer[*written..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => *written += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        let replaced = *replaced;
        this.replacing = None;
        Poll::Ready(Ok(replaced))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    // Vectored writes stay vectored (hyper then writes a body without copying it behind the
    // head); hyper's bare answer has no body, so it comes as the only non-empty buffer.
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let mut filled = bufs.iter().filter(|b| !b.is_empty());
        if let (Some(only), None) = (filled.next(), filled.next())
            && (self.replacing.is_some() || replacement(only, self.render).is_some())
        {
            return self.poll_write(cx, only);
        }
        if self.replacing.is_some() {
            return self.poll_write(cx, &[]);
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(e: &HubError) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({ "error": e })).unwrap()
    }

    #[test]
    fn hypers_bare_answer_is_replaced_by_the_error_object() {
        let bare = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\ndate: Wed, 02 Dec 2026 00:00:00 GMT\r\n\r\n";
        let out = String::from_utf8(replacement(bare, json).unwrap()).unwrap();
        let (head, body) = out.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{head}");
        assert!(head.contains("date: Wed"), "{head}");
        assert!(head.contains("content-type: application/json"), "{head}");
        assert!(
            head.contains(&format!("content-length: {}", body.len())),
            "{head}"
        );
        assert!(!head.contains("content-length: 0"), "{head}");
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["error"]["code"], "BAD_REQUEST");
        assert_eq!(v["error"]["status"], 400);
        let long = b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\n\r\n";
        let out = String::from_utf8(replacement(long, json).unwrap()).unwrap();
        assert!(
            out.contains("\"status\":414") && out.contains("URL"),
            "{out}"
        );
    }

    #[test]
    fn answers_of_the_interfaces_pass_unchanged() {
        for answer in [
            &b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"[..],
            b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 12\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\ntransfer-encoding: chunked\r\n\r\n",
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n",
            b"{\"items\":[]}",
        ] {
            assert!(replacement(answer, json).is_none(), "{}", String::from_utf8_lossy(answer));
        }
    }
}
