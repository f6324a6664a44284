//! Supercronic's command line: `supercronic [-flag …] CRONTAB`, Go-style single-dash long
//! flags. clap has no single-dash long flags, so [`rewrite_supercronic_flags`] maps each known
//! one to its `--` spelling here before clap parses; everything else passes unchanged.

use std::ffi::OsString;

use clap::{CommandFactory, FromArgMatches};

use super::Cli;

/// Supercronic flag → ours, and whether it takes a value.
const FLAGS: &[(&str, &str, bool)] = &[
    ("test", "--test-crontab", false),
    ("json", "--log-json", false),
    ("debug", "--debug", false),
    ("quiet", "--quiet", false),
    ("passthrough-logs", "--passthrough-logs", false),
    ("split-logs", "--split-logs", false),
    ("overlapping", "--overlapping", false),
    ("inotify", "--watch", false),
    ("no-reap", "--no-reap", false),
    (
        "prometheus-listen-address",
        "--prometheus-listen-address",
        true,
    ),
    ("sentry-dsn", "--sentry-dsn", true),
    ("version", "--version", false),
    ("help", "--help", false),
];

/// The `worker --help` section listing Supercronic's spellings.
pub const SUPERCRONIC_HELP: &str = "\
Supercronic flags (single dash, as Supercronic spells them; `worker [FLAGS] CRONTAB`):
  -test                          Validate the crontab and exit 0 (valid) or 1 (= --test-crontab)
  -json                          Log as JSON lines (= --log-json, LOG_FORMAT=json)
  -debug                         Log at debug level (= --debug)
  -quiet                         Log warnings and errors only (= --quiet)
  -passthrough-logs              Print job output raw, undecorated (= --passthrough-logs)
  -split-logs                    Job stdout on stdout, other log lines on stderr (= --split-logs)
  -overlapping                   Every entry may overlap its previous run (= --overlapping)
  -inotify                       Reload when the crontab changes (= --watch)
  -no-reap                       Do not reap orphans as PID 1 (= --no-reap)
  -prometheus-listen-address A   Also serve /metrics on A (= --prometheus-listen-address)
  -sentry-dsn DSN                Report failures to Sentry (= --sentry-dsn, SENTRY_DSN)
  -version                       Print the version (= --version)";

/// Rewrites Supercronic's single-dash flags (`-json`, `-sentry-dsn=DSN`, `-json=false`) to ours.
/// Stops at `--` and at a subcommand (whose own arguments are not Supercronic's); a value after
/// a flag that takes one is never rewritten. `args[0]` is the program.
pub fn rewrite_supercronic_flags(args: Vec<OsString>, subcommands: &[&str]) -> Vec<OsString> {
    let mut out = Vec::with_capacity(args.len());
    let mut rest = args.into_iter();
    if let Some(program) = rest.next() {
        out.push(program);
    }
    let mut seen_positional = false;
    while let Some(arg) = rest.next() {
        let Some(text) = arg.to_str() else {
            out.push(arg);
            continue;
        };
        if text == "--" || (!seen_positional && subcommands.contains(&text)) {
            out.push(arg);
            break;
        }
        if !text.starts_with('-') {
            seen_positional = true;
            out.push(arg);
            continue;
        }
        let Some(flag) = text.strip_prefix('-').filter(|f| !f.starts_with('-')) else {
            out.push(arg);
            continue;
        };
        let (name, value) = match flag.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (flag, None),
        };
        match FLAGS.iter().find(|(n, _, _)| *n == name) {
            None => out.push(arg),
            Some((_, ours, true)) => match value {
                Some(v) => out.push(format!("{ours}={v}").into()),
                None => {
                    out.push(ours.into());
                    // The value is the next argument, whatever it looks like.
                    out.extend(rest.next());
                }
            },
            // Go booleans take `=true` / `=false`.
            Some((_, ours, false)) => match value {
                None | Some("true") | Some("1") => out.push(ours.into()),
                Some("false") | Some("0") => {}
                Some(_) => out.push(arg),
            },
        }
    }
    out.extend(rest);
    out
}

/// Parses the process's arguments, Supercronic's spellings included; prints help or the error
/// and exits as clap does.
pub fn parse_args(args: impl IntoIterator<Item = OsString>) -> Cli {
    let command = Cli::command();
    let names: Vec<String> = command
        .get_subcommands()
        .flat_map(|c| {
            std::iter::once(c.get_name().to_string()).chain(c.get_all_aliases().map(String::from))
        })
        .chain(["help".to_string()])
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let args = rewrite_supercronic_flags(args.into_iter().collect(), &names);
    let matches = command.get_matches_from(args);
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Command, CronCommand};

    fn rewrite(args: &[&str]) -> Vec<String> {
        let args = args.iter().map(OsString::from).collect();
        rewrite_supercronic_flags(args, &["run", "enqueue", "cron"])
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    fn parse(args: &[&str]) -> Cli {
        let command = Cli::command();
        let names: Vec<String> = command
            .get_subcommands()
            .map(|c| c.get_name().to_string())
            .collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let args = rewrite_supercronic_flags(args.iter().map(OsString::from).collect(), &names);
        Cli::from_arg_matches(&command.try_get_matches_from(args).unwrap()).unwrap()
    }

    #[test]
    fn supercronic_spellings_become_ours() {
        assert_eq!(
            rewrite(&[
                "worker",
                "-json",
                "-inotify",
                "-sentry-dsn",
                "-x",
                "-overlapping",
                "tab"
            ]),
            [
                "worker",
                "--log-json",
                "--watch",
                "--sentry-dsn",
                "-x",
                "--overlapping",
                "tab"
            ]
        );
        assert_eq!(
            rewrite(&[
                "worker",
                "-prometheus-listen-address=:9746",
                "-debug=false",
                "-quiet=true"
            ]),
            ["worker", "--prometheus-listen-address=:9746", "--quiet"]
        );
        // Unknown single-dash flags and our own spellings pass unchanged.
        assert_eq!(
            rewrite(&["worker", "-n", "--json", "-test"]),
            ["worker", "-n", "--json", "--test-crontab"]
        );
    }

    #[test]
    fn subcommand_arguments_are_left_alone() {
        assert_eq!(
            rewrite(&["worker", "enqueue", "q", "n", "--data", "-json"]),
            ["worker", "enqueue", "q", "n", "--data", "-json"]
        );
        assert_eq!(
            rewrite(&["worker", "--", "-json"]),
            ["worker", "--", "-json"]
        );
    }

    #[test]
    fn a_positional_crontab_coexists_with_subcommands() {
        let cli = parse(&["worker", "-json", "-overlapping", "/app/crontab"]);
        assert!(cli.command.is_none());
        let args = cli.daemon_args();
        assert_eq!(
            args.crontab.as_deref(),
            Some(std::path::Path::new("/app/crontab"))
        );
        assert!(args.log_json && args.overlapping);

        let cli = parse(&["worker", "-test", "/app/crontab"]);
        assert_eq!(
            cli.test_crontab,
            Some(Some(std::path::PathBuf::from("/app/crontab")))
        );
        // `-test -json CRONTAB`: the flag without a file, the crontab positional.
        let cli = parse(&["worker", "-test", "-json", "/app/crontab"]);
        assert_eq!(cli.test_crontab, Some(None));
        assert_eq!(
            cli.daemon_args().crontab,
            Some(std::path::PathBuf::from("/app/crontab"))
        );

        assert!(matches!(
            parse(&["worker", "run"]).command,
            Some(Command::Run(_))
        ));
        assert!(matches!(
            parse(&["worker", "enqueue", "q", "n"]).command,
            Some(Command::Enqueue(_))
        ));
        assert!(matches!(
            parse(&["worker", "cron", "next", "* * * * *"]).command,
            Some(Command::Cron(CronCommand::Next { .. }))
        ));
        // A crontab and a subcommand together are refused, not silently mixed.
        let names = ["run", "enqueue", "cron"];
        let args = rewrite_supercronic_flags(
            ["worker", "/app/crontab", "run"]
                .iter()
                .map(OsString::from)
                .collect(),
            &names,
        );
        assert!(Cli::command().try_get_matches_from(args).is_err());
    }

    #[test]
    fn help_lists_the_supercronic_flags() {
        let help = Cli::command().render_long_help().to_string();
        for (name, _, _) in FLAGS.iter().filter(|(n, _, _)| *n != "help") {
            assert!(
                help.contains(&format!("-{name}")),
                "-{name} missing from help"
            );
        }
        assert!(help.contains("Supercronic flags"));
    }
}
