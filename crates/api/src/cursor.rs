//! Opaque pagination cursors: clients pass back what they were given, never build their own.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use signalons_domain::Violation;

const PREFIX: &str = "r1:";
const EVENT_PREFIX: &str = "e1:";

fn invalid() -> Violation {
    Violation::new("invalid_cursor", "cursor is not one this server issued")
}

fn decoded_text(cursor: &str) -> Result<String, Violation> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    String::from_utf8(bytes).map_err(|_| invalid())
}

/// The cursor that continues a newest-first list after the report `last_id`.
pub fn encode(last_id: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{PREFIX}{last_id}"))
}

/// The report id a cursor continues after.
pub fn decode(cursor: &str) -> Result<i64, Violation> {
    decoded_text(cursor)?
        .strip_prefix(PREFIX)
        .and_then(|id| id.parse::<i64>().ok())
        .filter(|id| *id > 0)
        .ok_or_else(invalid)
}

/// The cursor that continues a newest-first history after the event of `id` at `at` (events
/// are ordered by time, then id).
pub fn encode_event(at: DateTime<Utc>, id: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{EVENT_PREFIX}{}:{id}", at.timestamp_micros()))
}

/// The time and id of the event a history cursor continues after.
pub fn decode_event(cursor: &str) -> Result<(DateTime<Utc>, i64), Violation> {
    let text = decoded_text(cursor)?;
    let (micros, id) = text
        .strip_prefix(EVENT_PREFIX)
        .and_then(|rest| rest.split_once(':'))
        .ok_or_else(invalid)?;
    let at = micros
        .parse::<i64>()
        .ok()
        .and_then(DateTime::from_timestamp_micros)
        .ok_or_else(invalid)?;
    let id = id
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(invalid)?;
    Ok((at, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        assert_eq!(decode(&encode(12345)).unwrap(), 12345);
    }

    #[test]
    fn event_cursors_round_trip_to_the_microsecond() {
        let at = DateTime::from_timestamp_micros(1_765_000_000_123_456).unwrap();
        assert_eq!(decode_event(&encode_event(at, 77)).unwrap(), (at, 77));
        // Each kind of cursor only continues its own list.
        assert!(decode(&encode_event(at, 77)).is_err());
        assert!(decode_event(&encode(77)).is_err());
    }

    #[test]
    fn forged_event_cursors_are_refused() {
        for bad in [
            "e1:12:x",
            "e1:12",
            "e1:x:3",
            "e1:12:0",
            "e1:99999999999999999999:3",
        ] {
            let forged = URL_SAFE_NO_PAD.encode(bad);
            assert_eq!(
                decode_event(&forged).unwrap_err().code,
                "invalid_cursor",
                "{bad}"
            );
        }
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
