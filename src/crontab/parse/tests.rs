use super::*;

#[test]
fn lines_split_greedily_and_keep_command_spacing() {
    let tab = parse_crontab(
        "# c\nFOO = \"bar baz\"\nSHELL=/bin/bash\nCRON_TZ=Europe/Paris\n0 3 * * * 2030 backup.sh  --full\n*/15 * * * * * echo hi\n* * * * * * * enqueue q n {\"a\":1}\n@daily  run it\nCRON_TZ=America/New_York 0 9 * * MON-FRI report\n",
    )
    .unwrap();
    assert_eq!(tab.env, vec![("FOO".to_string(), "bar baz".to_string())]);
    assert_eq!(tab.shell, "/bin/bash");
    assert_eq!(tab.default_tz.unwrap().name(), "Europe/Paris");
    let e = &tab.entries;
    assert_eq!(e[0].schedule.to_string(), "0 3 * * * 2030");
    assert_eq!(e[0].target, Target::Command("backup.sh  --full".into()));
    assert_eq!(e[1].schedule.to_string(), "*/15 * * * * *");
    assert!(e[1].schedule.looks_seconds_first());
    assert_eq!(
        e[2].target,
        Target::Enqueue {
            queue: "q".into(),
            name: "n".into(),
            data: serde_json::json!({"a": 1})
        }
    );
    assert_eq!(e[3].target, Target::Command("run it".into()));
    assert_eq!(e[4].tz.unwrap().name(), "America/New_York");
    assert_eq!(e[4].line, 9);
    assert!(tab
        .warnings
        .iter()
        .any(|w| w.line == 6 && w.message.contains("YEAR")));
    assert_eq!(e[0].id(), e[0].clone().id(), "stable");
    assert_eq!(e[0].id().len(), 12);
    assert!(e[0].id().chars().all(|c| c.is_ascii_hexdigit()));
}

#[test]
fn every_bad_line_is_reported_with_its_column() {
    let err = parse_crontab("0 3 * * * ok\n60 * * * * bad\n* * * * x\nCRON_TZ=Mars/Base\n0 0 * * * enqueue q\n0 0 * * * enqueue q n {bad\n")
        .unwrap_err();
    let lines: Vec<usize> = err.0.iter().map(|d| d.line).collect();
    assert_eq!(lines, [2, 3, 4, 5, 6]);
    assert_eq!(err.0[0].column, 1);
    assert!(err.0[0].message.contains("0-59"), "{}", err.0[0].message);
    assert!(err.0[4].message.contains("JSON"));
}

/// Issue 14 item 8: a BOM before `CRON_TZ` used to turn it into an environment variable named
/// `\u{feff}CRON_TZ`, silently dropping the zone.
#[test]
fn a_leading_bom_keeps_the_file_zone() {
    let tab = parse_crontab("\u{feff}CRON_TZ=Europe/Paris\n0 3 * * * backup\n").unwrap();
    assert_eq!(tab.default_tz.map(|t| t.name()), Some("Europe/Paris"));
    assert!(tab.env.is_empty(), "{:?}", tab.env);
}

/// Issue 14 item 8: commands `exec` can never run are refused with their line and column.
#[test]
fn nul_bytes_and_over_long_commands_are_refused_at_parse_time() {
    let long = format!("0 3 * * * echo {}\n", "x".repeat(128 * 1024));
    let text = format!("0 3 * * * echo a\0b\n{long}FOO=a\0b\n* * * * * ok\n");
    let err = parse_crontab(&text).unwrap_err();
    let places: Vec<(usize, usize)> = err.0.iter().map(|d| (d.line, d.column)).collect();
    assert_eq!(places, [(1, 17), (2, 11), (3, 1)], "{err}");
    assert!(err.0[0].message.contains("NUL"), "{err}");
    assert!(err.0[1].message.contains("128 KiB"), "{err}");
    assert!(err.0[2].message.contains("FOO"), "{err}");
}

/// Issue 14 item 9: `enqueue QUEUE` uses the same queue-name rule as config and API.
#[test]
fn enqueue_lines_use_the_queue_name_rule() {
    let err = parse_crontab("* * * * * enqueue a*b n\n* * * * * enqueue ../x n\n").unwrap_err();
    let places: Vec<(usize, usize)> = err.0.iter().map(|d| (d.line, d.column)).collect();
    assert_eq!(places, [(1, 19), (2, 19)], "{err}");
    assert!(err.0[0].message.contains("not a queue name"), "{err}");
    assert!(parse_crontab("* * * * * enqueue {email} send\n").is_ok());
}

/// `%` is passed through as Supercronic does (classic cron would turn it into stdin).
#[test]
fn percent_signs_are_passed_through() {
    let tab = parse_crontab("0 3 * * * date +%F 100%\n").unwrap();
    assert_eq!(
        tab.entries[0].target,
        Target::Command("date +%F 100%".into())
    );
}
