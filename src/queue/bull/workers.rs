//! How Bull's `Queue.getWorkers()` (and so Bull Board's `hasWorkers` and worker list) sees
//! cronq: a Bull worker names its blocking connection `<prefix>:<base64 of the queue name>`
//! with `CLIENT SETNAME`, and `getWorkers()` lists the `CLIENT LIST` entries whose name starts
//! with that. cronq names its own blocking connection of each Bull queue the same way.

/// Names `conn` as a Bull worker of `queue` under `prefix`. Only the consumer's blocking
/// connection carries the name: it exists exactly while the consumer waits for work, and it is
/// named again when it is made anew after a reconnect.
pub(super) async fn name_as_worker(
    conn: &mut redis::aio::MultiplexedConnection,
    prefix: &str,
    queue: &str,
) {
    let r: redis::RedisResult<()> = redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg(client_name(prefix, queue))
        .query_async(conn)
        .await;
    if let Err(e) = r {
        // A managed Redis may forbid CLIENT: the queue still runs, only the listing misses it.
        tracing::debug!(queue = %queue, error = %e,
            "CLIENT SETNAME refused; Bull's getWorkers() will not list this worker");
    }
}

/// Bull's client name for a worker of `queue` under `prefix`.
pub(super) fn client_name(prefix: &str, queue: &str) -> String {
    format!("{prefix}:{}", base64(queue.as_bytes()))
}

/// Standard base64 with padding (what Node's `Buffer.toString('base64')` writes); a dozen
/// lines rather than a crate for one short name.
fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_nodes_base64() {
        // Buffer.from(x).toString('base64') for each x.
        assert_eq!(client_name("bull", "legacy"), "bull:bGVnYWN5");
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"abc"), "YWJj");
        assert_eq!(base64("émail".as_bytes()), "w6ltYWls");
        assert_eq!(base64(b""), "");
    }
}
