//! The `http` handler keeps at most 1 MiB of a reply (issue 25): an endpoint answering 8 MiB
//! completes the job with a marked, truncated return value, and the rest is not downloaded.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::*;

const REPLY: usize = 8 << 20;
const KEPT: usize = 1 << 20;

/// A one-shot HTTP server on loopback that answers any request with `REPLY` bytes of `x`,
/// counting what the client let it write; it stops at the first failed write or the end.
fn big_endpoint() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let written = Arc::new(AtomicUsize::new(0));
    let count = written.clone();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
            if line == "\r\n" {
                break;
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let mut out = stream;
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {REPLY}\r\n\r\n"
        );
        out.write_all(head.as_bytes()).unwrap();
        let chunk = vec![b'x'; 64 * 1024];
        while count.load(Ordering::SeqCst) < REPLY {
            if out.write_all(&chunk).is_err() {
                return;
            }
            count.fetch_add(chunk.len(), Ordering::SeqCst);
        }
    });
    (port, written)
}

#[test]
fn a_long_reply_completes_the_job_with_a_truncated_return_value() {
    let (port, written) = big_endpoint();
    let redis = Redis::start();
    let config = format!(
        "[defaults]\nattempts = 1\n[queues.hooks.handlers.call]\nhttp = {{ url = \"http://127.0.0.1:{port}/big\" }}\n"
    );
    let dir = TempDir::new("http-cap");
    let id = enqueue(&redis, &dir, &config, &["hooks", "call", "--data", "{}"]);
    let daemon = Daemon::start(&redis.url(), &config, None, &[]);
    assert_eq!(
        wait_finished(&redis, "hooks", &id, Duration::from_secs(30)),
        "completed",
        "{}",
        daemon.log()
    );
    let stored = job_field(&redis, "hooks", &id, "returnvalue");
    eprintln!(
        "an {REPLY}-byte reply: {} bytes stored, {} bytes sent before the daemon hung up",
        stored.len(),
        written.load(Ordering::SeqCst)
    );
    assert!(stored.len() < KEPT + 1024, "{} bytes stored", stored.len());
    let value: serde_json::Value = serde_json::from_str(&stored).unwrap();
    assert_eq!(value["truncated"], true);
    assert_eq!(value["keptBytes"], KEPT);
    assert_eq!(value["body"].as_str().unwrap().len(), KEPT);
}
