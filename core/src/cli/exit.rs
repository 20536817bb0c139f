//! The one exit-code policy of the provider CLI (documented in the README):
//!
//! | code | meaning |
//! |---|---|
//! | 0 | done |
//! | 1 | failed: an AWS call or a wait failed; the message says what is left |
//! | 2 | bad input: arguments or config file; nothing was called |
//! | 3 | partly done: some items of a batch failed (each is reported) |
//! | 4 | refused: the command would be unsafe without an explicit flag |

use std::process::ExitCode;

/// How a command ended when it did not simply succeed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Arguments or config file are wrong; nothing was sent to AWS.
    #[error("{0}")]
    Usage(String),
    /// Some items of a batch failed; the others were done and reported.
    #[error("{0}")]
    Partial(String),
    /// Refused because it would be unsafe without an explicit flag.
    #[error("{0}")]
    Refused(String),
    /// Anything else, with its context chain.
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

impl CliError {
    pub fn code(&self) -> u8 {
        match self {
            CliError::Failed(_) => 1,
            CliError::Usage(_) => 2,
            CliError::Partial(_) => 3,
            CliError::Refused(_) => 4,
        }
    }
}

impl From<crate::aws::OptionsError> for CliError {
    fn from(error: crate::aws::OptionsError) -> Self {
        CliError::Usage(error.to_string())
    }
}

/// Prints the error (with its causes) on stderr and returns the exit code.
pub fn report(result: Result<(), CliError>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            match &error {
                CliError::Failed(inner) => eprintln!("error: {inner:#}"),
                other => eprintln!("error: {other}"),
            }
            ExitCode::from(error.code())
        }
    }
}
