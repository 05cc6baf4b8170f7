//! Opaque pagination cursors: clients pass back what they were given, never build their own.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use signalons_domain::Violation;

const PREFIX: &str = "r1:";

/// The cursor that continues a newest-first list after the report `last_id`.
pub fn encode(last_id: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{PREFIX}{last_id}"))
}

/// The report id a cursor continues after.
pub fn decode(cursor: &str) -> Result<i64, Violation> {
    let invalid = || Violation::new("invalid_cursor", "cursor is not one this server issued");
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    text.strip_prefix(PREFIX)
        .and_then(|id| id.parse::<i64>().ok())
        .filter(|id| *id > 0)
        .ok_or_else(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        assert_eq!(decode(&encode(12345)).unwrap(), 12345);
    }

    #[test]
    fn forged_cursors_are_refused() {
        for bad in [
            "",
            "12345",
            "!!!",
            &URL_SAFE_NO_PAD.encode("r1:-4"),
            &URL_SAFE_NO_PAD.encode("x:1"),
        ] {
            assert_eq!(decode(bad).unwrap_err().code, "invalid_cursor", "{bad}");
        }
    }
}
