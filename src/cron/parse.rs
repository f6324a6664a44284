//! stub
#![allow(missing_docs, unreachable_pub)]
use super::schedule::Schedule;
#[derive(Debug, Clone, PartialEq)]
pub struct Crontab {
    pub entries: Vec<Entry>,
    pub env: Vec<(String, String)>,
    pub shell: String,
    pub default_tz: Option<chrono_tz::Tz>,
    pub warnings: Vec<Diagnostic>,
}
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub line: usize,
    pub schedule: Schedule,
    pub tz: Option<chrono_tz::Tz>,
    pub target: Target,
}
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Command(String),
    Enqueue {
        queue: String,
        name: String,
        data: serde_json::Value,
    },
}
impl Entry {
    pub fn id(&self) -> String {
        format!("l{}", self.line)
    }
    pub fn zone(&self, d: Option<chrono_tz::Tz>, daemon: chrono_tz::Tz) -> chrono_tz::Tz {
        self.tz.or(d).unwrap_or(daemon)
    }
}
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub line: usize,
    pub column: usize,
    pub message: String,
}
impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}", .0.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n"))]
pub struct ParseErrors(pub Vec<Diagnostic>);
pub fn parse_crontab(text: &str) -> Result<Crontab, ParseErrors> {
    let mut entries = vec![];
    let mut errs = vec![];
    for (i, l) in text.lines().enumerate() {
        let l = l.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let toks: Vec<&str> = l.split_whitespace().collect();
        for n in [7usize, 5] {
            if toks.len() > n {
                if let Ok(s) = Schedule::parse(&toks[..n].join(" ")) {
                    entries.push(Entry {
                        line: i + 1,
                        schedule: s,
                        tz: None,
                        target: Target::Command(toks[n..].join(" ")),
                    });
                    break;
                }
            }
        }
        if entries.last().map(|e| e.line) != Some(i + 1) {
            errs.push(Diagnostic {
                line: i + 1,
                column: 1,
                message: "bad".into(),
            });
        }
    }
    if errs.is_empty() {
        Ok(Crontab {
            entries,
            env: vec![],
            shell: "/bin/sh".into(),
            default_tz: None,
            warnings: vec![],
        })
    } else {
        Err(ParseErrors(errs))
    }
}
