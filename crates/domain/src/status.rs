//! The public status machine of a report (DESIGN.md §4).

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Violation;

/// Where a report stands. Open311 shows `resolved`, `duplicate`, `not_responsible` and
/// `rejected` as `closed`, the rest as `open`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportStatus {
    /// Received, not yet looked at.
    Submitted,
    /// Seen by the responsible service.
    Acknowledged,
    /// Work is planned.
    Scheduled,
    /// A crew is on it.
    InProgress,
    /// Fixed.
    Resolved,
    /// The same problem as another report; followed there.
    Duplicate,
    /// Not the city's to fix; forwarded where possible.
    NotResponsible,
    /// Will not be acted on; the explanation says why.
    Rejected,
    /// Reported as not fixed after being resolved.
    Reopened,
}

impl ReportStatus {
    pub const ALL: [Self; 9] = [
        Self::Submitted,
        Self::Acknowledged,
        Self::Scheduled,
        Self::InProgress,
        Self::Resolved,
        Self::Duplicate,
        Self::NotResponsible,
        Self::Rejected,
        Self::Reopened,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Submitted => "submitted",
            Self::Acknowledged => "acknowledged",
            Self::Scheduled => "scheduled",
            Self::InProgress => "in_progress",
            Self::Resolved => "resolved",
            Self::Duplicate => "duplicate",
            Self::NotResponsible => "not_responsible",
            Self::Rejected => "rejected",
            Self::Reopened => "reopened",
        }
    }

    /// Whether the problem is finished with (Open311 `closed`).
    pub fn is_closed(self) -> bool {
        matches!(
            self,
            Self::Resolved | Self::Duplicate | Self::NotResponsible | Self::Rejected
        )
    }

    /// Whether staff may move a report from `self` to `next`. Moving to the same status is not a
    /// transition; `reopened` is reached only from a closed status.
    pub fn can_become(self, next: Self) -> bool {
        use ReportStatus::*;
        if self == next || next == Submitted {
            return false;
        }
        match next {
            Reopened => matches!(self, Resolved | Rejected | NotResponsible),
            _ if self.is_closed() => false,
            Acknowledged => matches!(self, Submitted | Reopened),
            Scheduled => matches!(self, Submitted | Acknowledged | InProgress | Reopened),
            InProgress | Resolved | Duplicate | NotResponsible | Rejected => true,
            Submitted => false,
        }
    }
}

/// Whether the reporter of a report in `status`, closed at `closed_at`, may reopen it at `now`:
/// only a resolution can be disputed, and only within `window_days`.
pub fn reporter_may_reopen(
    status: ReportStatus,
    closed_at: Option<chrono::DateTime<chrono::Utc>>,
    now: chrono::DateTime<chrono::Utc>,
    window_days: i32,
) -> Result<(), Violation> {
    if status != ReportStatus::Resolved {
        return Err(Violation::new(
            "not_reopenable",
            format!("only a resolved report can be reopened; this one is {status}"),
        ));
    }
    let closed_at = closed_at.unwrap_or(now);
    if now - closed_at > chrono::Duration::days(i64::from(window_days)) {
        return Err(Violation::new(
            "reopen_window_passed",
            format!("a resolution can be disputed for {window_days} days; report it again instead"),
        ));
    }
    Ok(())
}

impl fmt::Display for ReportStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ReportStatus {
    type Err = Violation;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == text)
            .ok_or_else(|| Violation::new("unknown_status", format!("unknown status {text:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::ReportStatus::*;
    use super::*;

    #[test]
    fn statuses_round_trip_through_text() {
        for status in ReportStatus::ALL {
            assert_eq!(status.as_str().parse::<ReportStatus>().unwrap(), status);
            // The database stores as_str, the API serializes with serde: they must agree.
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
        }
        assert_eq!(
            "open".parse::<ReportStatus>().unwrap_err().code,
            "unknown_status"
        );
    }

    #[test]
    fn the_happy_path_is_allowed() {
        assert!(Submitted.can_become(Acknowledged));
        assert!(Acknowledged.can_become(Scheduled));
        assert!(Scheduled.can_become(InProgress));
        assert!(InProgress.can_become(Resolved));
    }

    #[test]
    fn closed_reports_only_reopen() {
        for closed in ReportStatus::ALL.into_iter().filter(|s| s.is_closed()) {
            for next in ReportStatus::ALL {
                if next != Reopened {
                    assert!(!closed.can_become(next), "{closed} -> {next}");
                }
            }
        }
        assert!(Resolved.can_become(Reopened));
        assert!(!Duplicate.can_become(Reopened));
        assert!(!Submitted.can_become(Reopened));
    }

    #[test]
    fn reporters_reopen_resolutions_within_the_window() {
        let closed = chrono::DateTime::parse_from_rfc3339("2026-03-01T12:00:00Z")
            .unwrap()
            .to_utc();
        let later = |days| closed + chrono::Duration::days(days);
        assert!(reporter_may_reopen(Resolved, Some(closed), later(13), 14).is_ok());
        assert_eq!(
            reporter_may_reopen(Resolved, Some(closed), later(15), 14)
                .unwrap_err()
                .code,
            "reopen_window_passed"
        );
        assert_eq!(
            reporter_may_reopen(Rejected, Some(closed), later(1), 14)
                .unwrap_err()
                .code,
            "not_reopenable"
        );
    }

    #[test]
    fn nothing_goes_back_to_submitted_or_stays_put() {
        for status in ReportStatus::ALL {
            assert!(!status.can_become(Submitted));
            assert!(!status.can_become(status));
        }
    }
}
