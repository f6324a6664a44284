//! What a handler's process group holds, read from /proc: its resident memory (`max_memory`)
//! and whether anything in it still runs (the drain's TERM-then-KILL).

/// `(pgrp, state, pid)` of each process in /proc.
fn processes() -> impl Iterator<Item = (i32, char, u32)> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let e = e.ok()?;
            let pid = e.file_name().to_str()?.parse::<u32>().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            // The command name (field 2) may hold spaces and parentheses: fields after the last ')'.
            let rest = &stat[stat.rfind(')')? + 2..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            // From field 3: state, ppid, pgrp.
            let state = f.first()?.chars().next()?;
            let pgrp = f.get(2)?.parse().ok()?;
            Some((pgrp, state, pid))
        })
}

/// The summed RSS in KiB of the live processes of group `pgid`, `None` when none is found.
pub(super) fn group_rss_kib(pgid: i32) -> Option<u64> {
    let kib: Vec<u64> = processes()
        .filter(|(g, state, _)| *g == pgid && *state != 'Z')
        .filter_map(|(_, _, pid)| rss_kib(pid))
        .collect();
    (!kib.is_empty()).then(|| kib.iter().sum())
}

/// `VmRSS` of `pid` (kB in /proc's spelling, KiB in fact), whatever the page size.
pub(super) fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Whether any process of group `pgid` still runs (zombies do not count).
pub(super) fn group_alive(pgid: i32) -> bool {
    processes().any(|(g, state, _)| g == pgid && state != 'Z')
}

/// Whether process `pid` still runs (not a zombie).
#[cfg(test)]
pub(super) fn group_alive_pid(pid: i32) -> bool {
    processes().any(|(_, state, p)| p as i32 == pid && state != 'Z')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_own_group_has_memory_and_is_alive() {
        let me = nix::unistd::getpgrp().as_raw();
        assert!(group_rss_kib(me).is_some_and(|k| k > 100));
        assert!(group_alive(me));
        assert!(!group_alive(i32::MAX));
    }
}
