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
    // Supercronic's older spelling; its -sentry-dsn wins when both are given.
    ("sentryDsn", "--sentry-dsn-alias", true),
    ("sentry-environment", "--sentry-environment", true),
    ("sentry-release", "--sentry-release", true),
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
  -sentryDsn DSN                 Older spelling of -sentry-dsn (which wins when both are given)
  -sentry-environment ENV        Sentry environment (= --sentry-environment, SENTRY_ENVIRONMENT)
  -sentry-release REL            Sentry release (= --sentry-release, SENTRY_RELEASE)
  -version                       Print the version (= --version)";

/// File names that are the program itself, not a crontab: an image whose `ENTRYPOINT` is the
/// binary and whose `CMD` starts with the program name (`CMD ["worker", "/app/crontab"]`, or
/// `["supercronic", …]` kept from before) runs `worker worker /app/crontab`.
const PROGRAM_NAMES: &[&str] = &["worker", "supercronic"];

/// A single-dash flag that is neither Supercronic's nor one of clap's short flags.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown flag '{0}': cronq takes Supercronic's single-dash flags (-json, -test, -debug, …) \
     and its own double-dash ones; see `worker -help`"
)]
pub struct UnknownFlag(pub String);

/// Rewrites Supercronic's single-dash flags (`-json`, `-sentry-dsn=DSN`, `-json=false`) to ours.
/// Stops at `--` and at a subcommand (whose own arguments are not Supercronic's); a value after
/// a flag that takes one is never rewritten. `args[0]` is the program; a first argument that is
/// just a program name ([`PROGRAM_NAMES`]) is dropped. An unknown single-dash flag of more than
/// one letter is refused whole (clap would only name its first letter, `-s`).
pub fn rewrite_supercronic_flags(
    args: Vec<OsString>,
    subcommands: &[&str],
) -> Result<Vec<OsString>, UnknownFlag> {
    let mut out = Vec::with_capacity(args.len());
    let mut rest = args.into_iter().peekable();
    if let Some(program) = rest.next() {
        out.push(program);
    }
    if rest.peek().is_some_and(is_program_name) {
        rest.next();
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
            // clap's own short flags (-h, -V) and a lone `-` pass; anything longer is a
            // Supercronic-style flag we do not know.
            None if name.chars().count() <= 1 => out.push(arg),
            None => return Err(UnknownFlag(text.to_string())),
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
    Ok(out)
}

/// `worker`, `supercronic`, or a path ending in one of them (`/usr/local/bin/supercronic`).
fn is_program_name(arg: &OsString) -> bool {
    std::path::Path::new(arg)
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| PROGRAM_NAMES.contains(&n))
}

/// The names that end Supercronic-flag rewriting: every subcommand, its aliases, and `help`.
fn subcommand_names() -> Vec<String> {
    Cli::command()
        .get_subcommands()
        .flat_map(|c| {
            std::iter::once(c.get_name().to_string()).chain(c.get_all_aliases().map(String::from))
        })
        .chain(["help".to_string()])
        .collect()
}

/// Parses the process's arguments, Supercronic's spellings included; prints help or the error
/// and exits as clap does (2 for a usage error).
pub fn parse_args(args: impl IntoIterator<Item = OsString>) -> Cli {
    let names = subcommand_names();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let args = match rewrite_supercronic_flags(args.into_iter().collect(), &names) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let matches = Cli::command().get_matches_from(args);
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Command, CronCommand};

    fn rewrite(args: &[&str]) -> Vec<String> {
        let args = args.iter().map(OsString::from).collect();
        rewrite_supercronic_flags(args, &["run", "enqueue", "cron"])
            .unwrap()
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
        let args =
            rewrite_supercronic_flags(args.iter().map(OsString::from).collect(), &names).unwrap();
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
                "-xyz",
                "-overlapping",
                "tab"
            ]),
            [
                "worker",
                "--log-json",
                "--watch",
                "--sentry-dsn",
                "-xyz",
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
        // One-letter flags (clap's -h, -V) and our own spellings pass unchanged.
        assert_eq!(
            rewrite(&["worker", "-h", "--json", "-test"]),
            ["worker", "-h", "--json", "--test-crontab"]
        );
    }

    #[test]
    fn sentry_environment_release_and_the_old_dsn_spelling_are_accepted() {
        let cli = parse(&[
            "worker",
            "-sentryDsn",
            "https://k@h/1",
            "-sentry-environment=staging",
            "-sentry-release",
            "v9",
            "/app/crontab",
        ]);
        let a = cli.daemon_args();
        assert_eq!(a.sentry_dsn_alias.as_deref(), Some("https://k@h/1"));
        assert_eq!(a.sentry_environment.as_deref(), Some("staging"));
        assert_eq!(a.sentry_release.as_deref(), Some("v9"));
    }

    #[test]
    fn an_unknown_single_dash_flag_is_refused_whole() {
        let args = ["worker", "-sentry-foo", "x", "tab"];
        let err = rewrite_supercronic_flags(args.iter().map(OsString::from).collect(), &[]);
        assert_eq!(err, Err(UnknownFlag("-sentry-foo".into())));
        assert!(err.unwrap_err().to_string().contains("'-sentry-foo'"));
    }

    #[test]
    fn a_first_argument_naming_the_program_is_dropped() {
        for first in ["worker", "supercronic", "/usr/local/bin/supercronic"] {
            assert_eq!(
                rewrite(&["worker", first, "-json", "/app/crontab"]),
                ["worker", "--log-json", "/app/crontab"],
                "{first}"
            );
        }
        // Only in first place: a crontab path elsewhere is never dropped.
        assert_eq!(
            rewrite(&["worker", "-json", "worker"]),
            ["worker", "--log-json", "worker"]
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
        )
        .unwrap();
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
