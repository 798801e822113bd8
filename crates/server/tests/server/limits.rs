//! Limits everywhere a client can push (issue 9, item 11): oversize bodies, slow and
//! concurrent requests, rate limits per address and per device, the photo quota, and a
//! forwarded address that does not parse.

use serde_json::{Value, json};
use sha2::Digest;

use crate::helpers::{spawn_app, spawn_app_with};

/// Sends `head` and then `body` over a plain TCP connection, all of it before reading
/// anything (as simple HTTP/1.1 clients do), and returns the answer's status and body.
async fn send_all_then_read(base: &str, head: &str, body: &[u8]) -> std::io::Result<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    s.write_all(head.as_bytes()).await?;
    for chunk in body.chunks(64 * 1024) {
        s.write_all(chunk).await?;
    }
    s.flush().await?;
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).await?;
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    Ok((status, body))
}

fn chunked(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for c in body.chunks(64 * 1024) {
        out.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        out.extend_from_slice(c);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// A request head for `body`, sent with a Content-Length or chunked.
fn head(method_path: &str, token: &str, len: Option<usize>) -> String {
    let framing = match len {
        Some(n) => format!("content-length: {n}"),
        None => "transfer-encoding: chunked".to_string(),
    };
    format!(
        "{method_path} HTTP/1.1\r\nhost: doorstep\r\nauthorization: Bearer {token}\r\n\
         content-type: application/json\r\n{framing}\r\nconnection: close\r\n\r\n"
    )
}

// Bodies well past the limit and past what the kernel's socket buffers absorb, so a server
// that answers early and closes resets the connection while the client still sends.

#[tokio::test]
async fn an_oversize_json_body_answers_413_that_the_client_can_read() {
    let app = spawn_app().await;
    let device = app.device().await;
    let body =
        json!({ "app_version": "x".repeat(12 * 1024 * 1024), "platform": "linux", "events": [] })
            .to_string()
            .into_bytes();
    for (len, bytes) in [(Some(body.len()), body.clone()), (None, chunked(&body))] {
        let (status, answer) = send_all_then_read(
            &app.base,
            &head("POST /v1/sync", &device.token, len),
            &bytes,
        )
        .await
        .expect("the client reads an answer, not a reset connection");
        assert_eq!(status, 413, "{answer}");
        let answer: Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(answer["code"], "payload_too_large");
    }
}

#[tokio::test]
async fn an_oversize_photo_answers_413_that_the_client_can_read() {
    let app = spawn_app().await;
    let device = app.device().await;
    let photo = vec![0x5au8; 20 * 1024 * 1024];
    let sha = hex::encode(sha2::Sha256::digest(&photo));
    let put = format!("PUT /v1/photos/{sha}");
    for (len, bytes) in [(Some(photo.len()), photo.clone()), (None, chunked(&photo))] {
        let (status, answer) =
            send_all_then_read(&app.base, &head(&put, &device.token, len), &bytes)
                .await
                .expect("the client reads an answer, not a reset connection");
        assert_eq!(status, 413, "{answer}");
        let answer: Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(answer["code"], "payload_too_large");
    }
}
