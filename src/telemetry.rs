//! Logging: a `tracing` subscriber writing JSON (`LOG_FORMAT=json`, `-json`) or readable text
//! to stderr, filtered by `RUST_LOG` (default `info`; `-debug`, `-quiet`). Text fields are
//! escaped ([`escape`]) so a newline in a job id cannot forge a log line; colour only on a
//! terminal and never with `NO_COLOR`. With a Sentry DSN, error events also go to Sentry. With
//! an OTLP endpoint, job runs and cron enqueues become OpenTelemetry spans ([`otel`]).

mod escape;
pub mod json;
pub mod otel;
mod otel_context;
pub mod sentry;
pub mod supercronic;

use std::io::IsTerminal;
use std::sync::OnceLock;

use tracing_subscriber::field::MakeExt;
use tracing_subscriber::fmt::writer::{BoxMakeWriter, MakeWriterExt};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

pub use escape::escape_control;
use json::{JsonLines, LevelCase};

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line, `level` upper-case (`LOG_FORMAT=json`); see [`json`].
    Json,
    /// One JSON object per line, `level` lower-case as logrus writes it (`-json`).
    SupercronicJson,
    /// Human-readable.
    Text,
}

impl LogFormat {
    /// From `LOG_FORMAT`: unset or empty = text; `text` or `json` (any case); anything else is
    /// refused rather than silently logging text to a pipeline that parses JSON.
    pub fn from_env_value(v: Option<&str>) -> Result<LogFormat, String> {
        match v.map(str::trim) {
            None | Some("") => Ok(LogFormat::Text),
            Some(v) if v.eq_ignore_ascii_case("json") => Ok(LogFormat::Json),
            Some(v) if v.eq_ignore_ascii_case("text") => Ok(LogFormat::Text),
            Some(v) => Err(format!(
                "LOG_FORMAT={}: not a log format; write LOG_FORMAT=json or LOG_FORMAT=text \
                 (or unset it)",
                escape_control(v)
            )),
        }
    }

    fn json_case(self) -> Option<LevelCase> {
        match self {
            LogFormat::Json => Some(LevelCase::Upper),
            LogFormat::SupercronicJson => Some(LevelCase::Lower),
            LogFormat::Text => None,
        }
    }
}

/// Checks a `RUST_LOG` value before it is used (a typo would otherwise silently log at `info`).
pub fn check_filter(value: &str) -> Result<(), String> {
    EnvFilter::try_new(value).map(|_| ()).map_err(|e| {
        format!(
            "RUST_LOG={}: {e}; write a level (info, debug) or directives such as \
             RUST_LOG=info,cronq=debug",
            escape_control(value)
        )
    })
}

/// How to log; `main` fills it from flags and environment.
#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    /// JSON or text.
    pub format: Option<LogFormat>,
    /// The `RUST_LOG` value, if set.
    pub filter: Option<String>,
    /// `-debug`: at least debug (a `RUST_LOG` that is set wins).
    pub debug: bool,
    /// `-quiet`: warnings and errors only (wins over everything).
    pub quiet: bool,
    /// `-split-logs`: debug and info lines on stdout, warnings and errors on stderr.
    pub split: bool,
    /// `NO_COLOR` is set to something.
    pub no_color: bool,
    /// Send error events to Sentry (a client is installed).
    pub sentry: bool,
}

impl LogOptions {
    /// The filter directive in effect.
    pub fn directive(&self) -> String {
        if self.quiet {
            return "warn".into();
        }
        match (&self.filter, self.debug) {
            (Some(f), _) => f.clone(),
            (None, true) => "debug".into(),
            (None, false) => "info".into(),
        }
    }

    /// Colour escapes only when every stream log lines go to is a terminal, and `NO_COLOR`
    /// is unset (Docker logs, files and journald get plain text).
    pub fn colour(&self, stdout_tty: bool, stderr_tty: bool) -> bool {
        !self.no_color && stderr_tty && (!self.split || stdout_tty)
    }
}

/// The format [`init`] installed, for [`print_error`].
static FORMAT: OnceLock<LogFormat> = OnceLock::new();

/// Prints an error that stops the daemon (lines like `error: FILE:LINE: …`): as text, or with
/// `-json` one JSON object per line, so that a JSON log stays JSON to its last line; and
/// reports it to Sentry.
pub fn print_error(text: &str) {
    if let Some(case) = FORMAT.get().and_then(|f| f.json_case()) {
        for line in text.lines() {
            let message = line.strip_prefix("error: ").unwrap_or(line);
            let mut fields = serde_json::Map::new();
            fields.insert("message".into(), message.into());
            let obj = json::object(fields, "ERROR", "cronq", case, chrono::Utc::now());
            eprintln!("{}", serde_json::Value::Object(obj));
        }
    } else {
        eprintln!("{text}");
    }
    sentry::daemon_error(text);
}

/// Installs the global subscriber.
pub fn init(opts: &LogOptions) {
    let _ = FORMAT.set(opts.format.unwrap_or(LogFormat::Text));
    let filter = EnvFilter::try_new(opts.directive()).unwrap_or_else(|_| EnvFilter::new("info"));
    let writer = if opts.split {
        // Supercronic's split: debug and info (job output included) to stdout, warnings and
        // errors to stderr, so that stderr alone is what needs attention.
        BoxMakeWriter::new(
            std::io::stdout
                .with_filter(|m| *m.level() >= tracing::Level::INFO)
                .or_else(std::io::stderr),
        )
    } else {
        BoxMakeWriter::new(std::io::stderr)
    };
    let colour = opts.colour(
        std::io::stdout().is_terminal(),
        std::io::stderr().is_terminal(),
    );
    let fmt = tracing_subscriber::fmt::layer().with_writer(writer);
    let fmt = match opts.format.unwrap_or(LogFormat::Text).json_case() {
        Some(level) => fmt.event_format(JsonLines { level }).boxed(),
        None => fmt
            .with_target(false)
            .with_ansi(colour)
            .fmt_fields(escape::fields().delimited(" "))
            .boxed(),
    };
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(opts.sentry.then(sentry::ErrorLayer::default))
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_on_a_terminal_and_never_with_no_color() {
        let o = LogOptions::default();
        assert!(o.colour(true, true));
        assert!(
            !o.colour(true, false),
            "stderr piped (docker logs): no colour"
        );
        let no = LogOptions {
            no_color: true,
            ..LogOptions::default()
        };
        assert!(!no.colour(true, true));
        let split = LogOptions {
            split: true,
            ..LogOptions::default()
        };
        assert!(!split.colour(false, true), "split logs: stdout piped");
    }

    #[test]
    fn quiet_wins_and_debug_yields_to_rust_log() {
        let mut o = LogOptions {
            debug: true,
            ..LogOptions::default()
        };
        assert_eq!(o.directive(), "debug");
        o.filter = Some("cronq=trace".into());
        assert_eq!(o.directive(), "cronq=trace");
        o.quiet = true;
        assert_eq!(o.directive(), "warn");
    }
}
