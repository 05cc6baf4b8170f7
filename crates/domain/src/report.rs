//! Identifiers and enumerations of a report.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Violation;

/// A category's code (an Open311 `service_code`): `[a-z0-9_]{2,48}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CategoryCode(String);

impl CategoryCode {
    pub fn new(code: &str) -> Result<Self, Violation> {
        let valid = (2..=48).contains(&code.len())
            && code
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if valid {
            Ok(Self(code.to_owned()))
        } else {
            Err(Violation::new(
                "invalid_category_code",
                "category must be 2 to 48 characters of a-z, 0-9 and _",
            ))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CategoryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A client-chosen key that makes a create safe to retry: the same key returns the same report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub const MAX_LEN: usize = 255;

    pub fn new(key: &str) -> Result<Self, Violation> {
        let valid =
            (1..=Self::MAX_LEN).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic());
        if valid {
            Ok(Self(key.to_owned()))
        } else {
            Err(Violation::new(
                "invalid_idempotency_key",
                "Idempotency-Key must be 1 to 255 visible ASCII characters",
            ))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A link to a photo kept elsewhere, as an Open311 client gives it in `media_url`. The server
/// only stores and shows the link: it never fetches it, so it is neither checked nor re-encoded
/// like an uploaded photo. An absolute `http` or `https` URL with a host, at most
/// [`ExternalMediaUrl::MAX_CHARS`] characters, without credentials (`user:password@`) that
/// would be published with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalMediaUrl(String);

impl ExternalMediaUrl {
    pub const MAX_CHARS: usize = 2048;

    pub fn new(text: &str) -> Result<Self, Violation> {
        let text = text.trim();
        let length = text.chars().count();
        if length > Self::MAX_CHARS {
            return Err(Violation::new(
                "too_long",
                format!(
                    "media_url must be at most {} characters, got {length}",
                    Self::MAX_CHARS
                ),
            ));
        }
        let invalid = |why: &str| Violation::new("invalid_url", format!("media_url {why}"));
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("must not contain spaces or control characters"));
        }
        let lower = text.to_ascii_lowercase();
        let rest = ["https://", "http://"]
            .iter()
            .find_map(|scheme| lower.starts_with(scheme).then(|| &text[scheme.len()..]))
            .ok_or_else(|| invalid("must be an http or https URL"))?;
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.contains('@') {
            return Err(invalid("must not carry a user name or password"));
        }
        let host = authority
            .rsplit_once(':')
            .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
            .map_or(authority, |(host, _)| host);
        let plausible_host = !host.is_empty()
            && (host.starts_with('[')
                || host
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '.' || c == '-'));
        if !plausible_host {
            return Err(invalid("must name a host"));
        }
        Ok(Self(text.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where a report came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportSource {
    /// The Signalons web app.
    Pwa,
    /// A third-party app through the REST API.
    Api,
    /// A third-party app through Open311 GeoReport v2.
    Open311,
    /// City staff.
    Staff,
    /// An automatic sensor (Street Bump style).
    Sensor,
    /// Imported history.
    Import,
}

impl ReportSource {
    pub const ALL: [Self; 6] = [
        Self::Pwa,
        Self::Api,
        Self::Open311,
        Self::Staff,
        Self::Sensor,
        Self::Import,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pwa => "pwa",
            Self::Api => "api",
            Self::Open311 => "open311",
            Self::Staff => "staff",
            Self::Sensor => "sensor",
            Self::Import => "import",
        }
    }
}

impl FromStr for ReportSource {
    type Err = Violation;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|source| source.as_str() == text)
            .ok_or_else(|| {
                Violation::new("unknown_source", format!("unknown report source {text:?}"))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn category_codes_are_restricted() {
        assert!(CategoryCode::new("pothole").is_ok());
        assert!(CategoryCode::new("street_light_2").is_ok());
        for bad in ["", "a", "Pothole", "pot-hole", "pot hole", &"a".repeat(49)] {
            assert!(CategoryCode::new(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn idempotency_keys_are_visible_ascii() {
        assert!(IdempotencyKey::new("0b6f1c3e-6c1d-4c59-9b7e-2b0c7a9e5d11").is_ok());
        assert!(IdempotencyKey::new("").is_err());
        assert!(IdempotencyKey::new("with space").is_err());
        assert!(IdempotencyKey::new(&"k".repeat(256)).is_err());
    }

    #[test]
    fn external_media_urls_are_plain_http_links() {
        for good in [
            "https://photos.example.org/p/1.jpg",
            "http://example.org:8080/a?b=c#d",
            "HTTPS://EXAMPLE.ORG/x",
            "https://[2001:db8::1]/x.png",
        ] {
            assert_eq!(ExternalMediaUrl::new(good).unwrap().as_str(), good);
        }
        for (bad, code) in [
            ("ftp://example.org/x.jpg", "invalid_url"),
            ("example.org/x.jpg", "invalid_url"),
            ("https://", "invalid_url"),
            ("https:///path", "invalid_url"),
            ("https://user:secret@example.org/x.jpg", "invalid_url"),
            ("https://exa mple.org/x.jpg", "invalid_url"),
            ("javascript:alert(1)", "invalid_url"),
        ] {
            assert_eq!(ExternalMediaUrl::new(bad).unwrap_err().code, code, "{bad}");
        }
        let long = format!("https://example.org/{}", "a".repeat(2048));
        assert_eq!(ExternalMediaUrl::new(&long).unwrap_err().code, "too_long");
    }

    #[test]
    fn sources_round_trip() {
        for source in ReportSource::ALL {
            assert_eq!(source.as_str().parse::<ReportSource>().unwrap(), source);
        }
        assert!("fax".parse::<ReportSource>().is_err());
    }
}
