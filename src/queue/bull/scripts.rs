//! Our Lua scripts for Bull 3/4's layout, one per transition; each file starts with its
//! KEYS/ARGV/returns header. Two files are preludes, not scripts: `lua/ready.lua` holds the
//! helpers of the scripts that make a job ready, `lua/locked.lua` the lock check that opens the
//! scripts ending a locked run; [`script!`] puts them in front of the scripts that use them.
//! `redis::Script` sends EVALSHA and falls back to EVAL once.

use std::sync::LazyLock;

use redis::Script;

/// A script from `lua/`, after the preludes listed in front of it (`lua/` files, in order).
/// Why a macro: the source is joined at compile time (`concat!` of `include_str!`), so a
/// script and its preludes ship as one text and are hashed once.
macro_rules! script {
    ($file:literal) => {
        script!([], $file)
    };
    ([$($prelude:literal),*], $file:literal) => {
        LazyLock::new(|| {
            Script::new(concat!(
                $(include_str!(concat!("lua/", $prelude)),)*
                include_str!(concat!("lua/", $file))
            ))
        })
    };
}

/// Adds a job (wait, paused, priority or delayed).
pub(super) static ADD: LazyLock<Script> = script!(["ready.lua"], "add.lua");
/// wait → active with a lock.
pub(super) static TAKE: LazyLock<Script> = script!("take.lua");
/// active → completed / failed, with retention.
pub(super) static FINISH: LazyLock<Script> = script!(["locked.lua"], "finish.lua");
/// active → delayed (backoff) or ready (retry now, release).
pub(super) static REQUEUE: LazyLock<Script> = script!(["ready.lua", "locked.lua"], "requeue.lua");
/// delayed → ready when due.
pub(super) static PROMOTE: LazyLock<Script> = script!(["ready.lua"], "promote.lua");
/// Lock renewal.
pub(super) static EXTEND: LazyLock<Script> = script!("extend.lua");
/// The shared stalled check.
pub(super) static STALLED: LazyLock<Script> = script!("stalled.lua");
/// Pause / resume.
pub(super) static PAUSE: LazyLock<Script> = script!("pause.lua");
/// Progress.
pub(super) static PROGRESS: LazyLock<Script> = script!("progress.lua");
/// A running job's data (`job.update`).
pub(super) static UPDATE_DATA: LazyLock<Script> = script!("update_data.lua");
/// failed → ready (retry from the API).
pub(super) static RETRY_FAILED: LazyLock<Script> = script!(["ready.lua"], "retry_failed.lua");
/// delayed → ready (promote from the API).
pub(super) static PROMOTE_ONE: LazyLock<Script> = script!(["ready.lua"], "promote_one.lua");
/// Remove one job.
pub(super) static REMOVE: LazyLock<Script> = script!("remove.lua");
/// Clean finished jobs.
pub(super) static CLEAN: LazyLock<Script> = script!("clean.lua");
/// The next iteration of a repeatable job.
pub(super) static REPEAT: LazyLock<Script> = script!("repeat.lua");
