//! The schedule's unit tests: sample expressions and their next instants (UTC and across
//! Paris's clock changes), and `@every`'s limits.

use chrono::{DateTime, Utc};

use super::super::zone::parse_zone;
use super::Schedule;

/// The next `n` instants of `expr` after `from`, as `cron next` prints them.
fn run(expr: &str, tz: &str, from: &str, n: usize) -> Vec<String> {
    let from: DateTime<Utc> = DateTime::parse_from_rfc3339(from)
        .unwrap()
        .with_timezone(&Utc);
    Schedule::parse(expr)
        .unwrap()
        .upcoming(from, parse_zone(tz).unwrap(), n)
        .iter()
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .collect()
}

/// Issue 14 item 9: `@every 1ms` must say what the minimum is.
#[test]
fn sub_second_every_names_the_minimum() {
    for d in ["1ms", "500ms", "0s", "1us"] {
        let err = Schedule::parse(&format!("@every {d}")).unwrap_err();
        assert!(
            err.message.contains("shortest interval is 1s"),
            "{d}: {}",
            err.message
        );
    }
}

/// A huge `@every` overflowed (a panic in debug builds, a negative step in release).
#[test]
fn huge_every_durations_are_errors_or_never_fire() {
    assert!(Schedule::parse("@every 18446744073709551615h").is_err());
    assert!(Schedule::parse("@every 99999999999999999999s").is_err());
    assert!(Schedule::parse("@every 18446744073709551615s1s").is_err());
    let now = Utc::now();
    for d in [
        "18446744073709551615s",
        "9223372036854775807s",
        "2562047788015215h",
    ] {
        let s = Schedule::parse(&format!("@every {d}")).unwrap();
        assert_eq!(s.next_after(now, chrono_tz::UTC), None, "{d}");
    }
}

/// Sample expressions: (expression, zone, from, how many asked, the next instants expected).
/// Fewer expected than asked: the schedule has no more (`2030` fires once).
const SAMPLES: &[(&str, &str, &str, usize, &[&str])] = &[
    (
        "0 3 * * *",
        "UTC",
        "2027-01-01T12:00:00Z",
        2,
        &["2027-01-02T03:00:00Z", "2027-01-03T03:00:00Z"],
    ),
    (
        "*/15 * * * * *",
        "UTC",
        "2027-01-01T12:07:30Z",
        3,
        &[
            "2027-01-01T12:15:00Z",
            "2027-01-01T12:30:00Z",
            "2027-01-01T12:45:00Z",
        ],
    ),
    (
        "*/15 * * * * * *",
        "UTC",
        "2027-01-01T12:07:30Z",
        3,
        &[
            "2027-01-01T12:07:45Z",
            "2027-01-01T12:08:00Z",
            "2027-01-01T12:08:15Z",
        ],
    ),
    (
        "0 9 * * MON-FRI",
        "UTC",
        "2027-01-01T12:00:00Z",
        3,
        &[
            "2027-01-04T09:00:00Z",
            "2027-01-05T09:00:00Z",
            "2027-01-06T09:00:00Z",
        ],
    ),
    (
        "0 0 * * 7",
        "UTC",
        "2027-01-01T12:00:00Z",
        2,
        &["2027-01-03T00:00:00Z", "2027-01-10T00:00:00Z"],
    ),
    (
        "@weekly",
        "UTC",
        "2027-01-01T12:00:00Z",
        2,
        &["2027-01-03T00:00:00Z", "2027-01-10T00:00:00Z"],
    ),
    (
        "0 0 L * *",
        "UTC",
        "2027-01-15T00:00:00Z",
        3,
        &[
            "2027-01-31T00:00:00Z",
            "2027-02-28T00:00:00Z",
            "2027-03-31T00:00:00Z",
        ],
    ),
    (
        "0 0 L 2 *",
        "UTC",
        "2027-03-01T00:00:00Z",
        2,
        &["2028-02-29T00:00:00Z", "2029-02-28T00:00:00Z"],
    ),
    (
        "0 0 1W * *",
        "UTC",
        "2027-05-01T00:00:00Z",
        2,
        &["2027-05-03T00:00:00Z", "2027-06-01T00:00:00Z"],
    ),
    (
        "0 0 * * 5#2",
        "UTC",
        "2027-01-01T00:00:00Z",
        3,
        &[
            "2027-01-08T00:00:00Z",
            "2027-02-12T00:00:00Z",
            "2027-03-12T00:00:00Z",
        ],
    ),
    (
        "0 0 1,15 * MON",
        "UTC",
        "2027-02-01T12:00:00Z",
        5,
        &[
            "2027-02-08T00:00:00Z",
            "2027-02-15T00:00:00Z",
            "2027-02-22T00:00:00Z",
            "2027-03-01T00:00:00Z",
            "2027-03-08T00:00:00Z",
        ],
    ),
    (
        "0 0 1 1 * 2030",
        "UTC",
        "2027-03-01T00:00:00Z",
        3,
        &["2030-01-01T00:00:00Z"],
    ),
    (
        "30 2 * * *",
        "Europe/Paris",
        "2027-03-27T11:00:00Z",
        2,
        &["2027-03-28T01:00:00Z", "2027-03-29T00:30:00Z"],
    ),
    (
        "30 2 * * *",
        "Europe/Paris",
        "2027-10-30T10:00:00Z",
        2,
        &["2027-10-31T00:30:00Z", "2027-11-01T01:30:00Z"],
    ),
    (
        "0 * * * *",
        "Europe/Paris",
        "2027-10-30T22:30:00Z",
        4,
        &[
            "2027-10-30T23:00:00Z",
            "2027-10-31T00:00:00Z",
            "2027-10-31T01:00:00Z",
            "2027-10-31T02:00:00Z",
        ],
    ),
];

#[test]
fn sample() {
    for &(expr, tz, from, n, want) in SAMPLES {
        assert_eq!(run(expr, tz, from, n), want, "{expr} in {tz} after {from}");
    }
    for bad in [
        "*/60 * * * *",
        "*/0 * * * *",
        "60 * * * *",
        "0 24 * * *",
        "0 0 32 * *",
        "0 0 * 13 *",
        "* * * *",
    ] {
        assert!(Schedule::parse(bad).is_err(), "{bad}");
    }
}
