//! The store's last refused write, kept so `/health` can tell it: a Redis at `maxmemory`
//! under `noeviction` still answers PING, so without this every add and cron tick failed while
//! `/health` said healthy. Written by `Store::add` (store.rs) (the API, the CLI and the
//! scheduler all add through it), read by `/health`.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::error::Error;

/// How long a refused write keeps the alarm on without another refusal. Cron ticks and
/// producers add often; a store that stopped refusing but saw no add since is not reported
/// broken for longer than this.
const HOLD: Duration = Duration::from_secs(60);

/// The last store-wide write refusal (full, gone, corrupted), cleared by the next add that
/// works. Shared by every clone of one `Store` (store.rs).
#[derive(Debug, Default)]
pub(crate) struct WriteAlarm {
    last: Mutex<Option<(Instant, String)>>,
}

impl WriteAlarm {
    /// Notes how an add ended: a store-wide refusal raises the alarm (logged when it is new),
    /// a success clears it, anything else (one queue's data, a bad job) leaves it.
    pub(crate) fn observe<T>(&self, result: &Result<T, Error>) {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        match result {
            Ok(_) => *last = None,
            Err(e) if e.fault().is_store_wide() => {
                if last.is_none() {
                    tracing::error!(error = %e, "the store refuses writes; /health reports it until a write works");
                }
                *last = Some((Instant::now(), e.to_string()));
            }
            Err(_) => {}
        }
    }

    /// The refusal, when one came within [`HOLD`] and no add worked since.
    pub(crate) fn current(&self) -> Option<String> {
        let last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        last.as_ref()
            .filter(|(at, _)| at.elapsed() < HOLD)
            .map(|(_, m)| m.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_is_held_until_a_write_works() {
        let alarm = WriteAlarm::default();
        alarm.observe::<()>(&Err(Error::engine("q", "WRONGTYPE Operation")));
        assert_eq!(
            alarm.current(),
            None,
            "one queue's data is not the store's fault"
        );
        alarm.observe::<()>(&Err(Error::engine(
            "q",
            "OOM command not allowed when used memory",
        )));
        assert!(alarm.current().unwrap().contains("OOM command not allowed"));
        alarm.observe(&Ok(()));
        assert_eq!(alarm.current(), None);
    }
}
