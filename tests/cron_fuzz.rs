//! Property tests of the crontab parser and the next-fire search: arbitrary strings and
//! strings built from cron tokens never panic `Schedule::parse` or `parse_crontab`, and a
//! schedule that parses gives, from a random instant in a random zone, a strictly later
//! instant, and from that one a strictly later one again (no loop, no going back).
//!
//! The conformance table (tests/cron_conformance.rs) checks exact answers; this file checks
//! that no input, however odd, breaks the daemon. Runtime is kept to a few seconds in debug
//! builds by the case counts below.

use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use cronq::crontab::parse::parse_crontab;
use cronq::crontab::schedule::Schedule;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

/// UTC, whole-hour DST zones in both hemispheres, a 30-minute DST shift (Lord Howe), DST
/// changes at midnight (Havana, Santiago), and odd fixed offsets (+05:45, +12:45 with DST).
const ZONES: [&str; 9] = [
    "UTC",
    "Europe/Paris",
    "America/New_York",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "America/Havana",
    "America/Santiago",
    "Asia/Kathmandu",
    "Pacific/Chatham",
];

fn zone() -> impl Strategy<Value = Tz> {
    select(ZONES.to_vec()).prop_map(|z| z.parse::<Tz>().expect("a known zone"))
}

/// Anywhere from 1970 to 2100, or (half the time) around 2027's DST changes.
fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    prop_oneof![0i64..4_102_444_800, 1_798_761_600i64..1_830_297_600]
        .prop_map(|s| DateTime::from_timestamp(s, 0).expect("in range"))
}

/// One list element in one of the dialect's forms, with values that are often in range.
fn element() -> impl Strategy<Value = String> {
    let n = || prop_oneof![0u32..32, 0u32..61, 1965u32..2105].prop_map(|v| v.to_string());
    let name = || {
        select(vec![
            "jan", "DEC", "february", "May", "mon", "SUN", "friday", "sat", "thu",
        ])
        .prop_map(String::from)
    };
    prop_oneof![
        3 => n(),
        2 => select(vec!["*", "?", "L", "LW", "l", "W", "#", "-", "/", ""]).prop_map(String::from),
        1 => name(),
        1 => (name(), name()).prop_map(|(a, b)| format!("{a}-{b}")),
        2 => (n(), n()).prop_map(|(a, b)| format!("{a}-{b}")),
        2 => (select(vec!["*", "?"]), n()).prop_map(|(a, s)| format!("{a}/{s}")),
        1 => (n(), n()).prop_map(|(a, s)| format!("{a}/{s}")),
        1 => (n(), n(), n()).prop_map(|(a, b, s)| format!("{a}-{b}/{s}")),
        1 => n().prop_map(|d| format!("{d}W")),
        1 => n().prop_map(|d| format!("{d}L")),
        1 => (n(), 0u32..7).prop_map(|(d, k)| format!("{d}#{k}")),
    ]
}

/// A field: 1-3 elements joined by commas, or a few raw tokens run together.
fn field() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => vec(element(), 1..4).prop_map(|v| v.join(",")),
        1 => vec(element(), 1..4).prop_map(|v| v.concat()),
    ]
}

/// 1-8 fields (5, 6 and 7 most often), a macro, or `@every` with any duration.
fn cronish() -> impl Strategy<Value = String> {
    let macros = vec![
        "@yearly",
        "@annually",
        "@monthly",
        "@weekly",
        "@daily",
        "@midnight",
        "@hourly",
        "@reboot",
        "@DAILY",
        "@every",
        "@bogus",
    ];
    prop_oneof![
        6 => vec(field(), 5..8).prop_map(|v| v.join(" ")),
        2 => vec(field(), 1..9).prop_map(|v| v.join(" ")),
        1 => select(macros).prop_map(String::from),
        1 => ("[0-9]{1,21}[smhdx]?", "([0-9]{1,3}[smhd])?")
            .prop_map(|(a, b)| format!("@every {a}{b}")),
    ]
}

/// The next fire is strictly after `from`, and the one after it strictly after that.
fn check_next(s: &Schedule, tz: Tz, from: DateTime<Utc>) -> Result<(), TestCaseError> {
    let Some(first) = s.next_after(from, tz) else {
        return Ok(());
    };
    prop_assert!(first > from, "{s} in {tz}: {first} is not after {from}");
    if let Some(second) = s.next_after(first, tz) {
        prop_assert!(second > first, "{s} in {tz}: {second} is not after {first}");
    }
    Ok(())
}

/// Parses `expr` alone and as a job line (plain and with a zone prefix); checks the next
/// fires when it parses. Returns whether it parsed.
fn exercise(expr: &str, tz: Tz, from: DateTime<Utc>) -> Result<bool, TestCaseError> {
    let _ = parse_crontab(&format!("{expr} cmd"));
    let _ = parse_crontab(&format!("CRON_TZ={} {expr} cmd\n{expr}", tz.name()));
    match Schedule::parse(expr) {
        Ok(s) => check_next(&s, tz, from).map(|()| true),
        Err(_) => Ok(false),
    }
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        // No regression files: a failure prints its (shrunk) input, which belongs in the
        // conformance table or a unit test.
        failure_persistence: None,
        ..Config::default()
    })
}

#[test]
fn arbitrary_strings_never_panic() {
    let parsed = AtomicUsize::new(0);
    let result = runner(2000).run(&(any::<String>(), zone(), instant()), |(s, tz, from)| {
        if exercise(&s, tz, from)? {
            parsed.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    println!(
        "arbitrary strings: 2000 cases, {} parsed",
        parsed.into_inner()
    );
}

#[test]
fn cron_like_strings_never_panic_and_next_fires_increase() {
    let parsed = AtomicUsize::new(0);
    let result = runner(4000).run(&(cronish(), zone(), instant()), |(s, tz, from)| {
        if exercise(&s, tz, from)? {
            parsed.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let parsed = parsed.into_inner();
    println!("cron-like strings: 4000 cases, {parsed} parsed");
    // The generator must reach the scheduler often enough to mean something.
    assert!(
        parsed >= 400,
        "only {parsed} of 4000 cron-like strings parsed"
    );
}
