//! Serving the router on the listener `app` bound, with hyper's HTTP/1.1 connection driver
//! rather than `axum::serve`, for one setting axum does not expose: the header-read timeout.
//! Hyper arms it whenever a connection waits for a request head, so it closes both a client
//! that connects and sends nothing and an idle keep-alive connection between requests. A
//! response in flight (an SSE stream) is not waiting for a head and is never cut. The body has
//! its own deadline where it is read ([`crate::http::api::JsonBody`]).
//!
//! At most [`MAX_CONNECTIONS`] connections are served at once; one more is answered 503 and
//! closed at once, so a flood of connections costs neither a task nor a descriptor each.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Pause after a failed `accept` (out of file descriptors): retrying at once would spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Connections served at once (SSE clients, the dashboard, probes, API callers). Far above what
/// one operator and a few tools use, and far below the descriptor limit: 5,000 idle sockets
/// cost 5,000 descriptors and about 150 MiB before this cap.
pub const MAX_CONNECTIONS: usize = 512;

/// Bytes of a request head buffered per connection; a longer head gets 431.
pub const MAX_HEAD: usize = 64 * 1024;

/// What a connection beyond the cap reads before it is closed.
const FULL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n\
Retry-After: 1\r\nConnection: close\r\nContent-Length: 97\r\n\r\n\
{\"error\":{\"code\":\"unavailable\",\"message\":\"too many open connections: close idle ones and retry\"}}";

/// Serves `app` until `closing` fires, then lets in-flight requests finish (idle connections
/// close at once) and returns when every connection is gone.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    idle_timeout: Duration,
    closing: CancellationToken,
) {
    // One task per connection; the tracker is how shutdown waits for all of them.
    let connections = TaskTracker::new();
    // One permit per connection served, held by its task until the connection ends.
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let accepted = tokio::select! {
            _ = closing.cancelled() => break,
            a = listener.accept() => a,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "cannot accept an HTTP connection; retrying");
                tokio::select! {
                    _ = closing.cancelled() => break,
                    _ = tokio::time::sleep(ACCEPT_BACKOFF) => continue,
                }
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            refuse(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        let closing = closing.clone();
        connections.spawn(async move {
            let _slot = slot;
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(idle_timeout)
                // Hyper buffers up to ~400 KiB of request head per connection by default: with
                // MAX_CONNECTIONS clients that is 200 MiB. A request head of cronq's API is a
                // few hundred bytes; 64 KiB leaves room for long cookies of a shared domain.
                .max_buf_size(MAX_HEAD);
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            let ended = tokio::select! {
                r = conn.as_mut() => r,
                _ = closing.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            // A timed-out or reset client is routine; nothing for the operator to do.
            if let Err(e) = ended {
                tracing::debug!(error = %e, "HTTP connection ended");
            }
        });
    }
    connections.close();
    connections.wait().await;
}

/// Answers 503 without waiting: a client that does not read it loses it, which is fine, as a
/// blocked write here would let the flood hold the accept loop.
fn refuse(stream: TcpStream) {
    let _ = stream.try_write(FULL);
    tracing::debug!(
        max = MAX_CONNECTIONS,
        "HTTP connection refused: too many open"
    );
}
