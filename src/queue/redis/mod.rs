//! The Redis store: BullMQ's layout, through the engine (`bullmq-official`, BullMQ's own Lua
//! scripts). The only code that names the engine.

pub(crate) mod admin;
mod backend;
pub(crate) mod cancel;
mod claims;
pub(crate) mod client;
pub(crate) mod consumer;
mod diagnose;
mod duplicate;
mod engine;
pub(crate) mod events;
mod eviction;
mod finish;
pub(crate) mod guard;
mod handback;
pub(crate) mod identity;
mod idle_waiter;
pub(crate) mod info;
pub(crate) mod inspect;
pub mod keys;
mod lenient;
pub(crate) mod metrics;
pub(crate) mod orphans;
pub(crate) mod producer;
pub(crate) mod quarantine;
mod rescue;
mod run_one;
pub(crate) mod sentinel;
pub mod target;

pub use client::RedisStore;
pub use identity::Identity;
pub use target::{redact_url, RedisTarget, Topology};
pub(crate) mod stacktrace;
pub(crate) mod stalled;
#[cfg(test)]
pub(crate) mod test_server;
pub(crate) mod wakeup;
