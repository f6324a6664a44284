//! The crontab file (Supercronic's dialect, shared/crontab.md): comments and blank lines,
//! environment lines, `SHELL`, `CRON_TZ` (file-wide, and as a per-entry prefix), and job lines
//! whose schedule takes 7, then 6, then 5 tokens — the first count that parses — or one
//! `@macro`. A command `enqueue QUEUE NAME [JSON]` adds a job instead of running a shell.
//! Pure: text in, [`Crontab`] or every bad line out.

use chrono_tz::Tz;

pub use super::error::Diagnostic;
use super::schedule::{Schedule, ScheduleError};
use super::zone::parse_zone;

/// A parsed crontab.
#[derive(Debug, Clone, PartialEq)]
pub struct Crontab {
    /// Job lines, in file order.
    pub entries: Vec<Entry>,
    /// Environment for jobs: final values, in first-set order (not SHELL or CRON_TZ).
    pub env: Vec<(String, String)>,
    /// `SHELL` (default `/bin/sh`).
    pub shell: String,
    /// `CRON_TZ` (last wins).
    pub default_tz: Option<Tz>,
    /// Lines worth a warning.
    pub warnings: Vec<Diagnostic>,
}

/// A job line.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// 1-based line.
    pub line: usize,
    /// When.
    pub schedule: Schedule,
    /// A per-entry `CRON_TZ=Zone` prefix.
    pub tz: Option<Tz>,
    /// What.
    pub target: Target,
}

/// What a job line does.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// A shell command (the rest of the line, spacing kept).
    Command(String),
    /// `enqueue QUEUE NAME [JSON]`.
    Enqueue {
        /// Queue.
        queue: String,
        /// Job name.
        name: String,
        /// Job data (default `{}`).
        data: serde_json::Value,
    },
}

impl Target {
    pub(crate) fn text(&self) -> String {
        match self {
            Target::Command(c) => c.clone(),
            Target::Enqueue { queue, name, data } => format!("enqueue {queue} {name} {data}"),
        }
    }
}

impl Entry {
    /// A stable id across restarts, replicas and builds: the first 12 hex digits of FNV-1a-64
    /// over `schedule|zone|target`.
    pub fn id(&self) -> String {
        let tz = self.tz.map(|t| t.name().to_string()).unwrap_or_default();
        let key = format!("{}|{tz}|{}", self.schedule, self.target.text());
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in key.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        format!("{h:016x}")[..12].to_string()
    }

    /// The zone it runs in: its prefix, else the crontab's `CRON_TZ`, else the daemon's.
    pub fn zone(&self, crontab_default: Option<Tz>, daemon: Tz) -> Tz {
        self.tz.or(crontab_default).unwrap_or(daemon)
    }
}

/// Every bad line of a crontab.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}", .0.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n"))]
pub struct ParseErrors(pub Vec<Diagnostic>);

/// Parses a whole crontab, collecting every bad line.
pub fn parse_crontab(text: &str) -> Result<Crontab, ParseErrors> {
    let mut p = Parser::default();
    // A BOM left in glued itself to the first key (`\u{feff}CRON_TZ` is an env variable).
    for (i, raw) in super::text::strip_bom(text).lines().enumerate() {
        p.line(i + 1, raw);
    }
    if !p.errors.is_empty() {
        return Err(ParseErrors(p.errors));
    }
    Ok(Crontab {
        entries: p.entries,
        env: p.env,
        shell: p.shell.unwrap_or_else(|| "/bin/sh".into()),
        default_tz: p.default_tz,
        warnings: p.warnings,
    })
}

#[derive(Default)]
struct Parser {
    entries: Vec<Entry>,
    env: Vec<(String, String)>,
    env_lines: Vec<(String, usize)>,
    shell: Option<String>,
    default_tz: Option<Tz>,
    warnings: Vec<Diagnostic>,
    errors: Vec<Diagnostic>,
}

impl Parser {
    fn line(&mut self, n: usize, raw: &str) {
        let indent = raw.len() - raw.trim_start().len();
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            return;
        }
        let col = indent + 1;
        // Per-entry zone prefix: `CRON_TZ=Area/City <schedule> <command>`.
        if let Some(rest) = line.strip_prefix("CRON_TZ=") {
            if let Some((zone, job)) = rest.split_once(char::is_whitespace) {
                if !zone.starts_with(['"', '\'']) {
                    let job_col =
                        col + 8 + zone.len() + (rest.len() - zone.len() - job.trim_start().len());
                    return match parse_zone(zone) {
                        Ok(tz) => self.job(n, job.trim_start(), job_col, Some(tz)),
                        Err(e) => self.error(n, col + 8, e),
                    };
                }
            }
        }
        if let Some((key, value)) = env_line(line) {
            return self.assign(n, col, key, value);
        }
        self.job(n, line, col, None);
    }

    fn assign(&mut self, n: usize, col: usize, key: &str, value: String) {
        if let Some((_, first)) = self.env_lines.iter().find(|(k, _)| k == key) {
            self.warn(n, col, format!("{key} is set again (first on line {first}): the last value applies to every job"));
        } else if !self.entries.is_empty() {
            self.warn(n, col, format!("{key} is set after a job line: as in Supercronic, it applies to every job, even earlier ones"));
        }
        self.env_lines.push((key.to_string(), n));
        if value.contains('\0') {
            return self.error(
                n,
                col,
                format!(
                    "{key}'s value contains a NUL byte, which no program can be given: remove it"
                ),
            );
        }
        match key {
            "SHELL" => self.shell = Some(value),
            "CRON_TZ" => match parse_zone(&value) {
                Ok(tz) => self.default_tz = Some(tz),
                Err(e) => self.error(n, col + key.len() + 1, e),
            },
            "USER" => self.warn(
                n,
                col,
                "USER is ignored: jobs run as the daemon's user".into(),
            ),
            _ => match self.env.iter_mut().find(|(k, _)| k == key) {
                Some(slot) => slot.1 = value,
                None => self.env.push((key.to_string(), value)),
            },
        }
    }

    fn job(&mut self, n: usize, line: &str, col: usize, tz: Option<Tz>) {
        match split_job(line) {
            Ok((schedule, rest, rest_offset)) => {
                if schedule.looks_seconds_first() {
                    self.warn(
                        n,
                        col,
                        format!("\"{schedule}\" has 6 fields, read as min hour dom mon dow YEAR (not seconds first); add a 7th field for seconds"),
                    );
                }
                match target(rest) {
                    Ok(target) => self.entries.push(Entry {
                        line: n,
                        schedule,
                        tz,
                        target,
                    }),
                    Err((c, msg)) => self.error(n, col + rest_offset + c, msg),
                }
            }
            Err(e) => self.error(n, col + e.column - 1, e.message),
        }
    }

    fn warn(&mut self, line: usize, column: usize, message: String) {
        self.warnings.push(Diagnostic {
            line,
            column,
            message,
        });
    }

    fn error(&mut self, line: usize, column: usize, message: String) {
        self.errors.push(Diagnostic {
            line,
            column,
            message,
        });
    }
}

/// `KEY = value` (regex `^([^\s=]+)\s*=\s*(.*)$`), one pair of surrounding quotes removed.
fn env_line(line: &str) -> Option<(&str, String)> {
    let key_end = line.find(|c: char| c.is_whitespace() || c == '=')?;
    let key = &line[..key_end];
    if key.is_empty() {
        return None;
    }
    let rest = line[key_end..].trim_start().strip_prefix('=')?;
    let value = rest.trim_start();
    let unquoted = ['"', '\'']
        .iter()
        .find_map(|q| value.strip_prefix(*q).and_then(|v| v.strip_suffix(*q)))
        .filter(|_| value.len() >= 2)
        .unwrap_or(value);
    Some((key, unquoted.to_string()))
}

/// Splits a job line: the schedule (7, then 6, then 5 tokens, or one @macro), the rest of the
/// line with its spacing, and the rest's offset in the line.
fn split_job(line: &str) -> Result<(Schedule, &str, usize), ScheduleError> {
    let spans = token_spans(line);
    if line.starts_with('@') {
        let macro_tokens = if line.to_ascii_lowercase().starts_with("@every") {
            2
        } else {
            1
        };
        if spans.len() <= macro_tokens {
            return Err(ScheduleError {
                column: 1,
                message: "a job line needs a command after its schedule".into(),
            });
        }
        let end = spans[macro_tokens - 1].1;
        let s = Schedule::parse(&line[..end])?;
        let start = spans[macro_tokens].0;
        return Ok((s, &line[start..], start));
    }
    let mut first_err = None;
    for count in [7, 6, 5] {
        if spans.len() <= count {
            continue;
        }
        let end = spans[count - 1].1;
        match Schedule::parse(&line[..end]) {
            Ok(s) => {
                let start = spans[count].0;
                return Ok((s, &line[start..], start));
            }
            Err(e) => {
                if count == 5 || first_err.is_none() {
                    first_err = Some(e);
                }
            }
        }
    }
    Err(first_err.unwrap_or(ScheduleError {
        column: 1,
        message: format!(
            "{} token(s): a job line is a schedule (5 fields: min hour dom mon dow) then a command",
            spans.len()
        ),
    }))
}

/// Byte spans of whitespace-separated tokens.
fn token_spans(line: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut start = None;
    for (i, c) in line.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                spans.push((s, i));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        spans.push((s, line.len()));
    }
    spans
}

/// The target of a job line; errors carry a 0-based column within `rest`.
fn target(rest: &str) -> Result<Target, (usize, String)> {
    let Some(args) = rest
        .strip_prefix("enqueue")
        .filter(|a| a.starts_with(char::is_whitespace))
    else {
        return match super::text::command_problem(rest) {
            Some(problem) => Err(problem),
            None => Ok(Target::Command(rest.to_string())),
        };
    };
    let spans = token_spans(args);
    let base = "enqueue".len();
    if spans.len() < 2 {
        return Err((
            base,
            "enqueue needs a queue and a job name: enqueue QUEUE NAME [JSON]".into(),
        ));
    }
    let queue = &args[spans[0].0..spans[0].1];
    let name = &args[spans[1].0..spans[1].1];
    crate::rules::validate_queue_name(queue).map_err(|m| (base + spans[0].0, m))?;
    let json = args[spans[1].1..].trim();
    let data = if json.is_empty() {
        serde_json::json!({})
    } else {
        let at = base + spans.get(2).map(|s| s.0).unwrap_or(spans[1].1);
        serde_json::from_str(json).map_err(|e| {
            (
                at,
                format!("job data is not valid JSON ({e}): write e.g. {{\"type\":\"delta\"}}"),
            )
        })?
    };
    Ok(Target::Enqueue {
        queue: queue.to_string(),
        name: name.to_string(),
        data,
    })
}

#[cfg(test)]
mod tests;
