//! The units people write for sizes and durations, in one place so that the file, the
//! environment and the flags read them alike.
//!
//! - Durations: `30s`, `5m`, `1h 30m`, `2d` (humantime), or a bare whole number, which is
//!   **seconds** (`SHUTDOWN_TIMEOUT=25`, `WORKER_MAX_RUNTIME=86400`), as in shell scripts and
//!   most daemons' environment variables.
//! - Memory sizes: a bare whole number is **MiB** (`--max-memory 512`, as before); with a unit,
//!   `K`/`M`/`G`/`T`, optionally followed by `B`, `i` or `iB`, any case, are powers of 1024, as in
//!   Docker's `--memory` (`1GB` = `1G` = `1GiB` = 1024 MiB); `B` alone is bytes.

use std::time::Duration;

/// A duration: humantime, or a bare whole number of seconds.
pub fn duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return t
            .parse::<u64>()
            .map(Duration::from_secs)
            .map_err(|_| format!("{t:?} is too large a number of seconds"));
    }
    humantime::parse_duration(t).map_err(|e| {
        format!("{text:?} is not a duration ({e}): write e.g. \"30s\", \"5m\", \"1h\", or a number of seconds")
    })
}

/// A memory size in MiB (rounded up, so a limit is never loosened to 0).
pub fn mebibytes(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let bad = || {
        format!(
            "{text:?} is not a memory size: write MiB as a number (512) or with a unit \
             (512MB, 1GB, 1.5G; K/M/G/T are powers of 1024)"
        )
    };
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let number: f64 = number.parse().map_err(|_| bad())?;
    let unit = unit.trim().to_ascii_lowercase();
    let unit = unit
        .strip_suffix("ib")
        .or_else(|| unit.strip_suffix('i'))
        .or_else(|| unit.strip_suffix('b').filter(|u| !u.is_empty()))
        .unwrap_or(&unit);
    let bytes_per = match unit {
        "" if split == t.len() => 1024.0 * 1024.0,
        "b" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        "t" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return Err(bad()),
    };
    let mib = (number * bytes_per / (1024.0 * 1024.0)).ceil();
    if !mib.is_finite() || mib > u64::MAX as f64 {
        return Err(bad());
    }
    Ok(mib as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_number_is_seconds_and_units_are_humantime() {
        assert_eq!(duration("86400"), Ok(Duration::from_secs(86_400)));
        assert_eq!(duration(" 25 "), Ok(Duration::from_secs(25)));
        assert_eq!(duration("12h"), Ok(Duration::from_secs(12 * 3600)));
        assert_eq!(duration("1h 30m"), Ok(Duration::from_secs(5400)));
        assert!(duration("soon").unwrap_err().contains("number of seconds"));
        assert!(duration("-5").is_err());
    }

    #[test]
    fn memory_sizes_take_the_units_people_write() {
        assert_eq!(mebibytes("512"), Ok(512));
        assert_eq!(mebibytes("1GB"), Ok(1024));
        assert_eq!(mebibytes("1G"), Ok(1024));
        assert_eq!(mebibytes("1gib"), Ok(1024));
        assert_eq!(mebibytes("1.5G"), Ok(1536));
        assert_eq!(mebibytes("512MB"), Ok(512));
        assert_eq!(mebibytes("512 Mi"), Ok(512));
        assert_eq!(mebibytes("2048K"), Ok(2));
        assert_eq!(mebibytes("1073741824B"), Ok(1024));
        for bad in ["", "lots", "1GX", "1..5G", "-1G", "G"] {
            assert!(mebibytes(bad).is_err(), "{bad}");
        }
    }
}
