//! The one error of the dialect: what is wrong with an expression, and where. Its own module
//! because both [`super::field`] (one field) and [`super::schedule`] (the whole expression)
//! produce it.

/// A parse error of an expression.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("column {column}: {message}")]
pub struct ScheduleError {
    /// 1-based column within the expression.
    pub column: usize,
    /// What is wrong and what would be valid.
    pub message: String,
}
