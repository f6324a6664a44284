//! How a one-shot command ends after an operation that can fail two ways: refused for a
//! reason the user can act on (exit 1, the reason on stderr), or by the store (an error of the
//! run, which `main` prints and ends with). One rule for the job operations, pauses and
//! backfills, so they cannot drift apart.

use std::process::ExitCode;

use crate::cron::backfill::BackfillError;
use crate::cron::pauses::PauseError;
use crate::queue::{Error, JobOpError};

/// An operation's error: the store's failure, or a refusal of the user's input.
pub(super) trait Refusal: std::fmt::Display + Sized {
    /// The store's failure, or `Err(self)` for a refusal.
    fn into_store(self) -> Result<Error, Self>;
}

/// Exit 0 after `result`'s success; 1 with the reason printed after a refusal; the store's
/// failure as the run's error.
pub(super) fn ended<E: Refusal>(result: Result<(), E>) -> anyhow::Result<ExitCode> {
    match result.map_err(E::into_store) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(Ok(store)) => Err(store.into()),
        Err(Err(refused)) => {
            eprintln!("error: {refused}");
            Ok(ExitCode::from(1))
        }
    }
}

// Each impl names every variant, so a new one has to be placed on a side.

impl Refusal for JobOpError {
    fn into_store(self) -> Result<Error, Self> {
        match self {
            JobOpError::Store(e) => Ok(e),
            refused @ (JobOpError::NotFound { .. } | JobOpError::WrongState { .. }) => Err(refused),
        }
    }
}

impl Refusal for PauseError {
    fn into_store(self) -> Result<Error, Self> {
        match self {
            PauseError::Store(e) => Ok(e),
            refused @ (PauseError::NoEntry(_) | PauseError::BadNote(_)) => Err(refused),
        }
    }
}

impl Refusal for BackfillError {
    fn into_store(self) -> Result<Error, Self> {
        match self {
            BackfillError::Store(e) => Ok(e),
            refused @ (BackfillError::NoEntry(_) | BackfillError::BadRange(_)) => Err(refused),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_exit_1_and_store_failures_are_errors_of_the_run() {
        assert_eq!(ended::<PauseError>(Ok(())).unwrap(), ExitCode::SUCCESS);
        let refused = PauseError::NoEntry("nightly".into());
        assert_eq!(ended(Err(refused)).unwrap(), ExitCode::from(1));
        let refused = BackfillError::BadRange("reversed".into());
        assert_eq!(ended(Err(refused)).unwrap(), ExitCode::from(1));
        let refused = JobOpError::NotFound {
            queue: "q".into(),
            id: "7".into(),
        };
        assert_eq!(ended(Err(refused)).unwrap(), ExitCode::from(1));
        let down = JobOpError::Store(Error::Engine {
            queue: "q".into(),
            message: "connection refused".into(),
        });
        let err = ended(Err(down)).unwrap_err();
        assert!(err.to_string().contains("connection refused"), "{err:#}");
    }
}
