//! Free text typed by people, bounded and trimmed.

use crate::Violation;

fn bounded(text: &str, max_chars: usize, name: &str) -> Result<String, Violation> {
    let trimmed = text.trim();
    if trimmed
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
    {
        return Err(Violation::new(
            "control_characters",
            format!("{name} must not contain control characters"),
        ));
    }
    let length = trimmed.chars().count();
    if length > max_chars {
        return Err(Violation::new(
            "too_long",
            format!("{name} must be at most {max_chars} characters, got {length}"),
        ));
    }
    Ok(trimmed.to_owned())
}

/// How staff address an account holder: at most 100 characters, possibly empty.
pub fn display_name(text: &str) -> Result<String, Violation> {
    bounded(text, 100, "display_name")
}

/// What the resident says about the problem: at most [`Description::MAX_CHARS`] characters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Description(String);

impl Description {
    /// Open311 GeoReport v2 caps descriptions at 4,000 characters; we keep the same bound.
    pub const MAX_CHARS: usize = 4000;

    pub fn new(text: &str) -> Result<Self, Violation> {
        bounded(text, Self::MAX_CHARS, "description").map(Self)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A human-readable street address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address(String);

impl Address {
    pub const MAX_CHARS: usize = 300;

    pub fn new(text: &str) -> Result<Self, Violation> {
        let text = bounded(text, Self::MAX_CHARS, "address")?;
        if text.is_empty() {
            return Err(Violation::new(
                "empty",
                "address must not be empty when given",
            ));
        }
        Ok(Self(text))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A reporter's email, kept private: it never appears in public output.
#[derive(Clone, PartialEq, Eq)]
pub struct ContactEmail(String);

impl ContactEmail {
    pub const MAX_CHARS: usize = 254;

    pub fn new(text: &str) -> Result<Self, Violation> {
        let text = text.trim();
        let invalid = || Violation::new("invalid_email", "email must look like name@example.org");
        if text.len() > Self::MAX_CHARS {
            return Err(Violation::new(
                "too_long",
                "email must be at most 254 characters",
            ));
        }
        let (local, domain) = text.split_once('@').ok_or_else(invalid)?;
        let plausible = !local.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !text.chars().any(|c| c.is_whitespace() || c.is_control())
            && !domain.contains('@');
        if plausible {
            Ok(Self(text.to_owned()))
        } else {
            Err(invalid())
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ContactEmail {
    // Personal data stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ContactEmail(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn description_is_trimmed_and_bounded() {
        assert_eq!(
            Description::new("  deep hole \n").unwrap().as_str(),
            "deep hole"
        );
        assert!(Description::new(&"é".repeat(4000)).is_ok());
        assert_eq!(
            Description::new(&"x".repeat(4001)).unwrap_err().code,
            "too_long"
        );
        assert_eq!(
            Description::new("a\u{0}b").unwrap_err().code,
            "control_characters"
        );
    }

    #[test]
    fn emails_are_plausible_and_redacted_in_debug() {
        let email = ContactEmail::new("ana@example.org").unwrap();
        assert!(!format!("{email:?}").contains("ana"));
        for bad in [
            "",
            "ana",
            "@example.org",
            "ana@org",
            "ana@.org",
            "a na@example.org",
        ] {
            assert!(ContactEmail::new(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn address_must_not_be_blank() {
        assert_eq!(Address::new("   ").unwrap_err().code, "empty");
        assert_eq!(
            Address::new("1 City Hall Sq").unwrap().as_str(),
            "1 City Hall Sq"
        );
    }
}
