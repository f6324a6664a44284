//! The `@` forms: the named macros (`@daily` …, each standing for a 5-field expression) and
//! `@every <duration>` (ticks at multiples of the duration since the Unix epoch).

use super::super::error::ScheduleError;

/// Each macro and the expression it stands for (`@reboot` and `@every` are not expressions).
pub(super) const MACROS: [(&str, &str); 7] = [
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
    ("@monthly", "0 0 1 * *"),
    ("@weekly", "0 0 * * 0"),
    ("@daily", "0 0 * * *"),
    ("@midnight", "0 0 * * *"),
    ("@hourly", "0 * * * *"),
];

/// The seconds of an `@every` duration such as `1h30m`.
pub(super) fn parse_every(d: &str) -> Result<u64, ScheduleError> {
    let mut total = 0u64;
    let mut num = String::new();
    for c in d.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let unit = match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            'd' => 86_400,
            _ => 0,
        };
        // Checked: `@every 99999999999999999999h` is an error, not an overflow panic.
        let part = num
            .parse::<u64>()
            .ok()
            .filter(|_| unit != 0)
            .and_then(|n| n.checked_mul(unit))
            .and_then(|p| p.checked_add(total));
        total = part.ok_or_else(|| ScheduleError {
            column: 8,
            message: every_hint(d),
        })?;
        num.clear();
    }
    if !num.is_empty() || total == 0 {
        return Err(ScheduleError {
            column: 8,
            message: every_hint(d),
        });
    }
    Ok(total)
}

/// The fix for a bad `@every`: its minimum and units (`1ms` used to get only "like 30s").
fn every_hint(d: &str) -> String {
    format!("@every {d:?}: the shortest interval is 1s; write whole days, hours, minutes and seconds like 30s, 5m, 1h30m")
}
