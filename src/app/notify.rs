//! systemd's readiness protocol (`Type=notify`): when `NOTIFY_SOCKET` names a datagram socket,
//! the daemon sends `READY=1` once it is healthy (store reached, pools started) and
//! `STOPPING=1` when it starts to drain. Without the variable nothing is sent.
//!
//! Written by hand over a `UnixDatagram` (no libsystemd, no unsafe code). A name starting with
//! `@` is a Linux abstract socket, as sd_notify(3) reads it. A failed send is logged once per
//! message and never stops the daemon: readiness is a courtesy to the supervisor, not a
//! precondition for running jobs.

use std::io;
use std::os::unix::net::UnixDatagram;

/// Where the supervisor listens, read once at start; `None` when not run under `Type=notify`.
pub(crate) struct Notifier {
    target: Option<String>,
}

impl Notifier {
    /// Reads `NOTIFY_SOCKET` (through the app's one environment reader).
    pub(crate) fn from_env() -> Notifier {
        Notifier {
            target: super::env_var("NOTIFY_SOCKET").filter(|s| !s.is_empty()),
        }
    }

    /// Tells the supervisor the daemon is ready to serve.
    pub(crate) fn ready(&self) {
        self.send("READY=1\nSTATUS=running");
    }

    /// Tells the supervisor the daemon is draining and will exit on its own.
    pub(crate) fn stopping(&self) {
        self.send("STOPPING=1\nSTATUS=draining");
    }

    fn send(&self, message: &str) {
        let Some(target) = &self.target else { return };
        if let Err(e) = send_to(target, message.as_bytes()) {
            tracing::warn!(socket = %target.escape_debug(), error = %e, "cannot notify the service manager (NOTIFY_SOCKET)");
        }
    }
}

/// Sends one datagram to `target`: a filesystem path, or `@name` for an abstract socket.
fn send_to(target: &str, message: &[u8]) -> io::Result<()> {
    let socket = UnixDatagram::unbound()?;
    // The supervisor reads its socket promptly; never let a full queue stall the daemon.
    socket.set_nonblocking(true)?;
    match target.strip_prefix('@') {
        Some(name) => send_abstract(&socket, name, message),
        None => socket.send_to(message, target).map(drop),
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn send_abstract(socket: &UnixDatagram, name: &str, message: &[u8]) -> io::Result<()> {
    use std::os::linux::net::SocketAddrExt;
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
    socket.send_to_addr(message, &addr).map(drop)
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn send_abstract(_: &UnixDatagram, _: &str, _: &[u8]) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "abstract sockets (`@name`) exist only on Linux",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_to_a_path_socket() {
        let dir = crate::scratch::Scratch::new("notify");
        let path = dir.join("notify.sock");
        let rx = UnixDatagram::bind(&path).unwrap();
        rx.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let n = Notifier {
            target: Some(path.to_string_lossy().into_owned()),
        };
        n.ready();
        let mut buf = [0u8; 256];
        let len = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"READY=1\nSTATUS=running");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn sends_to_an_abstract_socket() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("cronq-notify-test-{}", std::process::id());
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let rx = UnixDatagram::bind_addr(&addr).unwrap();
        rx.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        Notifier {
            target: Some(format!("@{name}")),
        }
        .stopping();
        let mut buf = [0u8; 256];
        let len = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"STOPPING=1\nSTATUS=draining");
    }

    #[test]
    fn a_missing_socket_is_an_error_not_a_panic() {
        assert!(send_to("/nonexistent/cronq/notify.sock", b"READY=1").is_err());
        // Without NOTIFY_SOCKET nothing is sent and nothing fails.
        Notifier { target: None }.ready();
    }
}
