//! [`Identity`]: this daemon's name among the daemons that share a store (`WORKER_ID` and a
//! run id). Its own file below the stores: the contract's `claim_identity` takes it, and the
//! Redis store (`redis/identity.rs`) is what gives it meaning (heartbeat, recovery).

/// This daemon's identity: `WORKER_ID` and a per-process run id.
#[derive(Debug, Clone)]
pub struct Identity {
    /// `WORKER_ID` (`[worker] id`), default the host name.
    pub worker_id: String,
    /// Unique to this process.
    pub run_id: String,
}

impl Identity {
    /// `worker_id` with a fresh run id (PID and start time: unique on one host).
    pub fn new(worker_id: &str) -> Identity {
        let now = crate::queue::consumer::now_ms();
        Identity {
            worker_id: worker_id.to_string(),
            run_id: format!("{:x}-{now:x}", std::process::id()),
        }
    }
}
