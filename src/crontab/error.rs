//! The dialect's errors: what is wrong with an expression ([`ScheduleError`], produced by both
//! [`super::field`] and [`super::schedule`]) and with a place of a crontab file
//! ([`Diagnostic`], produced by both [`super::parse`] and [`super::text`]). Their own module so
//! those pairs do not import each other.

/// A parse error of an expression.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("column {column}: {message}")]
pub struct ScheduleError {
    /// 1-based column within the expression.
    pub column: usize,
    /// What is wrong and what would be valid.
    pub message: String,
}

/// A message about one place of the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What, and what would be valid.
    pub message: String,
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}
