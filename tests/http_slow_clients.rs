//! Slow and greedy clients against a real daemon (issue 25): a request body sent a byte at a
//! time is cut at the deadline ([http] idle_timeout) with 408, and connections beyond the cap
//! are answered 503 and closed instead of each holding a descriptor and memory.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::*;

const CONFIG: &str = r#"
[defaults]
attempts = 1
[queues.mail.handlers.send]
builtin = "echo"
"#;

/// The status line's code of the first answer on `s`, or None when it closed silently.
fn status(s: &mut TcpStream) -> Option<u16> {
    let mut head = [0u8; 12];
    s.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

#[test]
fn a_body_sent_a_byte_at_a_time_is_cut_at_the_deadline() {
    let cfg = format!("{CONFIG}[http]\nidle_timeout = \"2s\"\n");
    let d = Daemon::start_embedded(&cfg, None, &[]);
    d.wait_healthy();
    let mut s = TcpStream::connect(("127.0.0.1", d.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(
        b"POST /api/queues/mail/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\n\
          Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{",
    )
    .unwrap();
    // The client trickles a byte every 100 ms, so it is never idle; it stops when the server
    // has answered or closed (its writes then fail).
    let mut writer = s.try_clone().unwrap();
    let trickle = std::thread::spawn(move || {
        for _ in 0..400 {
            if writer.write_all(b" ").is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let started = Instant::now();
    let code = status(&mut s);
    let took = started.elapsed();
    assert_eq!(code, Some(408), "after {took:?}\n{}", d.log());
    assert!(took < Duration::from_secs(15), "cut after {took:?}");
    drop(s);
    trickle.join().unwrap();
    // The daemon still serves.
    assert_eq!(d.health().map(|(c, _)| c), Some(200));
}

/// Open descriptors of process `pid`.
fn fds(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

#[test]
fn connections_beyond_the_cap_are_refused_and_given_back() {
    // Silent connections would be closed after idle_timeout: long here, so they stay.
    let cfg = format!("{CONFIG}[http]\nidle_timeout = \"60s\"\n");
    let d = Daemon::start_embedded(&cfg, None, &[]);
    d.wait_healthy();
    let before = fds(d.pid());
    // More than the cap (512): bounded, loopback, closed at the end of the test.
    let mut held: Vec<TcpStream> = (0..600)
        .map(|_| TcpStream::connect(("127.0.0.1", d.port)).unwrap())
        .collect();
    poll(
        Duration::from_secs(30),
        "a connection beyond the cap to be refused",
        || {
            let mut s = TcpStream::connect(("127.0.0.1", d.port)).ok()?;
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            s.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                .ok()?;
            (status(&mut s) == Some(503)).then_some(())
        },
    );
    let during = fds(d.pid());
    eprintln!("daemon descriptors: {before} idle, {during} with 600 clients connected");
    assert!(
        during <= before + 512 + 8,
        "{during} descriptors with 600 clients (before: {before})"
    );
    held.clear();
    // Given back: the daemon answers again once the clients are gone.
    poll(Duration::from_secs(30), "/health to answer again", || {
        (d.health().map(|(c, _)| c) == Some(200)).then_some(())
    });
}

#[test]
fn a_huge_request_head_is_refused_not_buffered() {
    let d = Daemon::start_embedded(CONFIG, None, &[]);
    d.wait_healthy();
    let mut s = TcpStream::connect(("127.0.0.1", d.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    // 200 KiB of headers: within hyper's default (~400 KiB), beyond cronq's 64 KiB.
    let filler = "x".repeat(1000);
    let mut head = String::from("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for i in 0..200 {
        head.push_str(&format!("X-Filler-{i}: {filler}\r\n"));
    }
    head.push_str("\r\n");
    // Written from another thread while this one already waits for the answer: the server
    // answers and closes before reading it all, and the reset that follows must not land
    // before the answer is read. A failed write is expected then.
    let mut writer = s.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        let _ = writer.write_all(head.as_bytes());
    });
    assert_eq!(status(&mut s), Some(431), "{}", d.log());
    drop(s);
    sender.join().unwrap();
    assert_eq!(d.health().map(|(c, _)| c), Some(200));
}
