//! The Redis store: BullMQ's layout, through the engine (`bullmq-official`, BullMQ's own Lua
//! scripts). The only code that names the engine.

mod add_undo;
pub(crate) mod admin;
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
mod group_release;
pub(crate) mod groups;
pub(crate) mod guard;
mod handback;
pub(crate) mod identity;
mod idle_waiter;
pub(crate) mod info;
pub(crate) mod inspect;
pub mod keys;
mod layouts;
mod lenient;
pub(crate) mod link;
pub(crate) mod orphans;
mod pauses;
pub(crate) mod producer;
pub(crate) mod quarantine;
mod record;
mod rescue;
mod run_claim;
mod run_one;
mod running;
pub(crate) mod sentinel;
mod stored_opts;
pub mod target;

pub use client::RedisStore;
pub use layouts::Layouts;
pub use target::{redact_url, RedisTarget, Topology};
pub(crate) mod stacktrace;
pub(crate) mod stalled;
#[cfg(test)]
pub(crate) mod test_server;
pub(crate) mod wakeup;
