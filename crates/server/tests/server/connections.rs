//! Slow and idle clients: one address cannot hold every connection, a client that sends its
//! headers too slowly or sits idle is let go, and a stranger's upload is not read.

use std::time::Duration;

use doorstep_protocol::wire::{EventStatus, Verification};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{MORNING_MS, TestApp, delivered, spawn_app_with};

/// A connection to the app from `source` (any 127/8 address reaches the loopback listener).
async fn connect_from(app: &TestApp, source: &str) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
    socket
        .connect(app.base.trim_start_matches("http://").parse().unwrap())
        .await
        .unwrap()
}

/// Reads until the server closes the connection (bounded, so a server that never does fails
/// the test instead of hanging it); what it sent.
async fn read_until_closed(s: &mut (impl AsyncRead + Unpin)) -> String {
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(60), s.read_to_end(&mut answer))
        .await
        .expect("the server closes the connection")
        .ok();
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn hundreds_of_slow_connections_from_one_address_leave_the_phones_served() {
    let app = spawn_app_with(|c| {
        c.limits.connections_per_address = 64;
        // Long enough that no held connection is let go while the test runs.
        c.limits.header_read_timeout = Duration::from_secs(600);
    })
    .await;
    let mut device = app.device().await;

    // 300 connections from 127.0.0.2, each sending the start of a request and no more.
    let mut slow = Vec::new();
    for _ in 0..300 {
        let mut s = connect_from(&app, "127.0.0.2").await;
        s.write_all(b"POST /v1/sync HTTP/1.1\r\nhost: d")
            .await
            .unwrap();
        slow.push(s);
    }
    let (mut held, mut refused) = (0, 0);
    for (i, s) in slow.iter_mut().enumerate() {
        if i < 64 {
            // Within the share: open, nothing answered.
            let mut byte = [0u8; 1];
            match s.try_read(&mut byte) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => held += 1,
                other => panic!("connection {i} within the share was answered: {other:?}"),
            }
        } else {
            let answer = read_until_closed(s).await;
            assert!(
                answer.starts_with("HTTP/1.1 503"),
                "connection {i}: {answer}"
            );
            assert!(answer.contains("Retry-After: 5"), "{answer}");
            assert!(
                answer.contains("too many connections from your address"),
                "{answer}"
            );
            refused += 1;
        }
    }
    assert_eq!((held, refused), (64, 236));

    // Meanwhile a phone on another address checks a code and sends the delivery.
    let p = app.parcel("high value");
    let online = device.verify(p.parcel_id, p.code.as_deref().unwrap()).await;
    assert_eq!(online["result"], "verified", "{online}");
    let low = app.parcel("low value");
    let event = device.record(
        low,
        delivered(Verification::NotRequired),
        MORNING_MS + 60_000,
    );
    assert_eq!(device.sync_one(event).await, EventStatus::Accepted);

    // A held connection given back makes room for one more from that address.
    slow.truncate(63);
    let mut again = connect_from(&app, "127.0.0.2").await;
    again
        .write_all(b"GET /v1/health HTTP/1.1\r\nhost: d\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let answer = read_until_closed(&mut again).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn a_client_that_sends_its_headers_a_byte_at_a_time_is_let_go() {
    let app = spawn_app_with(|c| c.limits.header_read_timeout = Duration::from_secs(1)).await;
    let mut s = connect_from(&app, "127.0.0.2").await;
    s.write_all(b"GET /v1/health HTTP/1.1\r\nhost: doorstep\r\nx-padding: ")
        .await
        .unwrap();
    // One more byte every 100 ms, for as long as the server takes them: it must close the
    // connection with the headers never finished (else `read_until_closed` fails the test).
    let (mut reader, mut writer) = s.into_split();
    let trickle = tokio::spawn(async move {
        while writer.write_all(b"a").await.is_ok() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let answer = read_until_closed(&mut reader).await;
    assert!(
        !answer.contains("200 OK"),
        "a request never finished was answered: {answer}"
    );
    trickle.abort();
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let app = spawn_app_with(|c| c.limits.header_read_timeout = Duration::from_secs(1)).await;
    let mut s = connect_from(&app, "127.0.0.1").await;
    s.write_all(b"GET /v1/health HTTP/1.1\r\nhost: doorstep\r\n\r\n")
        .await
        .unwrap();
    let mut status = [0u8; 12];
    s.read_exact(&mut status).await.unwrap();
    assert_eq!(&status, b"HTTP/1.1 200");
    // Kept alive after its answer, then nothing: the server closes it (else this fails).
    read_until_closed(&mut s).await;
}

#[tokio::test]
async fn an_upload_without_a_valid_token_is_answered_at_once_and_not_read() {
    let app = spawn_app_with(|c| c.limits.request_timeout = Duration::from_secs(300)).await;
    let mut s = connect_from(&app, "127.0.0.1").await;
    // A megabyte announced, a few bytes sent: a server that read the rest before answering
    // would wait for bytes that never come.
    s.write_all(
        b"POST /v1/admin/releases HTTP/1.1\r\nhost: doorstep\r\nauthorization: Bearer wrong\r\n\
          content-type: multipart/form-data; boundary=x\r\ncontent-length: 1000000\r\n\r\n--x\r\n",
    )
    .await
    .unwrap();
    let answer = read_until_closed(&mut s).await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
}
