//! systemd `Type=notify` (deploy/systemd/cronq.service): the real binary, given a datagram
//! socket as `NOTIFY_SOCKET`, sends `READY=1` only once /health answers 200 and `STOPPING=1`
//! when SIGTERM starts the drain, then exits 0. Both a path socket and a Linux abstract socket
//! (`@name`, as systemd passes it) are exercised.

mod support;

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use support::*;

const CONFIG: &str = r#"
[queues.work.handlers.echo]
builtin = "echo"
"#;

/// Receives datagrams until one contains `line`, or fails at the deadline. Returns every
/// message seen so far (so the test can check ordering).
fn wait_for(rx: &UnixDatagram, line: &str, seen: &mut Vec<String>) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "no {line:?} on NOTIFY_SOCKET; got {seen:?}"
        );
        rx.set_read_timeout(Some(left)).unwrap();
        match rx.recv(&mut buf) {
            Ok(n) => {
                let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
                let hit = msg.lines().any(|l| l == line);
                seen.push(msg);
                if hit {
                    return;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(e) => panic!("recv on the notify socket: {e}"),
        }
    }
}

fn ready_then_stopping(rx: &UnixDatagram, notify_socket: &str) {
    let mut daemon = Daemon::start_embedded(CONFIG, None, &[("NOTIFY_SOCKET", notify_socket)]);
    let mut seen = Vec::new();
    wait_for(rx, "READY=1", &mut seen);
    // READY means healthy: /health must already say so, without waiting.
    let (code, body) = daemon
        .health()
        .expect("/health answers once READY=1 is sent");
    assert_eq!(code, 200, "{body}");
    assert!(seen.iter().all(|m| !m.contains("STOPPING=1")), "{seen:?}");

    daemon.signal(Signal::SIGTERM);
    wait_for(rx, "STOPPING=1", &mut seen);
    assert_eq!(daemon.wait_exit(Duration::from_secs(20)), 0);
    assert_eq!(
        seen.iter().filter(|m| m.contains("READY=1")).count(),
        1,
        "READY=1 sent once: {seen:?}"
    );
}

#[test]
fn path_socket_gets_ready_then_stopping() {
    let dir = TempDir::new("notify");
    let path = dir.path().join("notify.sock");
    let rx = UnixDatagram::bind(&path).unwrap();
    ready_then_stopping(&rx, path.to_str().unwrap());
}

#[test]
fn abstract_socket_gets_ready_then_stopping() {
    use std::os::linux::net::SocketAddrExt;
    let name = format!("cronq-notify-it-{}", std::process::id());
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let rx = UnixDatagram::bind_addr(&addr).unwrap();
    ready_then_stopping(&rx, &format!("@{name}"));
}
