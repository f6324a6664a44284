//! Our Lua scripts for Bull 3/4's layout, one per transition; each file starts with its
//! KEYS/ARGV/returns header. `lua/ready.lua` holds the helpers the scripts that make a job ready
//! share; it is put in front of each of them here. `redis::Script` sends EVALSHA and falls back to EVAL once.

use std::sync::LazyLock;

use redis::Script;

/// Adds a job (wait, paused, priority or delayed).
pub(super) static ADD: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        include_str!("lua/ready.lua"),
        include_str!("lua/add.lua")
    ))
});
/// wait → active with a lock.
pub(super) static TAKE: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/take.lua")));
/// active → completed / failed, with retention.
pub(super) static FINISH: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/finish.lua")));
/// active → delayed (backoff) or ready (retry now, release).
pub(super) static REQUEUE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        include_str!("lua/ready.lua"),
        include_str!("lua/requeue.lua")
    ))
});
/// delayed → ready when due.
pub(super) static PROMOTE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        include_str!("lua/ready.lua"),
        include_str!("lua/promote.lua")
    ))
});
/// Lock renewal.
pub(super) static EXTEND: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/extend.lua")));
/// The shared stalled check.
pub(super) static STALLED: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/stalled.lua")));
/// Pause / resume.
pub(super) static PAUSE: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/pause.lua")));
/// Progress.
pub(super) static PROGRESS: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/progress.lua")));
/// A running job's data (`job.update`).
pub(super) static UPDATE_DATA: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/update_data.lua")));
/// failed → ready (retry from the API).
pub(super) static RETRY_FAILED: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        include_str!("lua/ready.lua"),
        include_str!("lua/retry_failed.lua")
    ))
});
/// delayed → ready (promote from the API).
pub(super) static PROMOTE_ONE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        include_str!("lua/ready.lua"),
        include_str!("lua/promote_one.lua")
    ))
});
/// Remove one job.
pub(super) static REMOVE: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/remove.lua")));
/// Clean finished jobs.
pub(super) static CLEAN: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/clean.lua")));
/// The next iteration of a repeatable job.
pub(super) static REPEAT: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/repeat.lua")));
