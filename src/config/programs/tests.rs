//! The `[programs.NAME]` validation: Supervisor's defaults, and each refusal naming its key.

use super::*;
use std::collections::BTreeMap;
use std::time::Duration;

fn one(text: &str) -> Result<ProgramSpec, String> {
    let raw: BTreeMap<String, RawProgram> = toml::from_str(text).map_err(|e| e.to_string())?;
    let place = |t: &str, k: &str| format!("[{t}] {k}");
    programs(&raw, &place, true)
        .map(|m| m.into_values().next().unwrap())
        .map_err(|e| e.to_string())
}

#[test]
fn supervisor_defaults() {
    let p = one("[w]\ncommand = \"php consume\"").unwrap();
    assert_eq!(p.numprocs, 1);
    assert!(p.autostart);
    assert_eq!(p.autorestart, AutoRestart::Unexpected);
    assert_eq!(p.exitcodes, vec![0]);
    assert_eq!(p.startsecs, Duration::from_secs(1));
    assert_eq!(p.startretries, 3);
    assert_eq!(p.stopsignal, StopSignal::Term);
    assert_eq!(p.stopwaitsecs, Duration::from_secs(10));
}

#[test]
fn refusals_name_the_key_and_the_fix() {
    for (text, key, says) in [
        ("numprocs = 0", "numprocs", "1 to 100"),
        (
            "autorestart = \"sometimes\"",
            "autorestart",
            "\"unexpected\"",
        ),
        ("stopsignal = \"BOGUS\"", "stopsignal", "TERM, HUP"),
        ("stopsignal = \"USR2\"", "stopsignal", "reserved"),
        ("exitcodes = [300]", "exitcodes", "0 to 255"),
        ("startretries = 5000", "startretries", "at most 1000"),
        (
            "logfile_maxbytes = \"10 parsecs\"",
            "logfile_maxbytes",
            "10MB",
        ),
        ("environment = \"NOEQUALS\"", "environment", "KEY=value"),
    ] {
        let e = one(&format!("[w]\ncommand = \"x\"\n{text}")).unwrap_err();
        assert!(e.contains(&format!("[programs.w] {key}")), "{e}");
        assert!(e.contains(says), "{e}");
    }
    let e = one("[w]\nnumprocs = 1").unwrap_err();
    assert!(e.contains("needs a command"), "{e}");
    let e = one("[\"a:b\"]\ncommand = \"x\"").unwrap_err();
    assert!(e.contains("not a usable program name"), "{e}");
}

#[test]
fn sizes_and_environments_in_both_spellings() {
    let p = one(
        "[w]\ncommand = \"x\"\nlogfile_maxbytes = \"10MB\"\nstdout_logfile = \"/tmp/o\"\n\
         environment = 'A=1,B=\"two\"'",
    )
    .unwrap();
    assert_eq!(p.stdout_logfile.unwrap().max_bytes, 10 * 1024 * 1024);
    assert_eq!(p.environment.get("B").map(String::as_str), Some("two"));
    let p = one("[w]\ncommand = \"x\"\nenvironment = { A = \"1\", N = 2 }").unwrap();
    assert_eq!(p.environment.get("N").map(String::as_str), Some("2"));
}
