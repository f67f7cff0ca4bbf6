//! What is wrong with a snapshot or a write, toggle by toggle.

use std::fmt;

/// A snapshot or write that does not fit the toggles of this program, with every problem.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Invalid {
    /// What is wrong, toggle by toggle.
    pub problems: Vec<Problem>,
}

/// One thing wrong with one toggle's entry: `{"toggle": "...", "message": "..."}` in JSON (the
/// HTTP API's 422 lists them so).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Problem {
    /// The toggle's full name.
    pub toggle: String,
    /// What is wrong.
    pub message: String,
}

impl Problem {
    /// `message` about the toggle `toggle`.
    pub fn new(toggle: &str, message: impl Into<String>) -> Problem {
        Problem {
            toggle: toggle.to_owned(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "`{}` {}", p.toggle, p.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for Invalid {}
