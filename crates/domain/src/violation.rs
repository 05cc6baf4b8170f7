use std::fmt;

/// Why a value was refused: a stable machine-readable `code` and a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Stable, snake_case; clients may switch on it.
    pub code: &'static str,
    /// Human explanation, in English.
    pub message: String,
}

impl Violation {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for Violation {}
