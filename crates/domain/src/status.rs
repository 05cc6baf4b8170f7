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

/// A move from one status to another that the status machine allows. Every write of a
/// status that changes it goes through one of these, so nothing can move a report backwards,
/// out of a closed status or to a status the machine does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    from: ReportStatus,
    to: ReportStatus,
}

/// A move the status machine forbids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a report that is {from} cannot become {to}")]
pub struct InvalidTransition {
    pub from: ReportStatus,
    pub to: ReportStatus,
}

impl Transition {
    /// The move from `from` to `to`, when [`ReportStatus::can_become`] allows it.
    pub fn new(from: ReportStatus, to: ReportStatus) -> Result<Self, InvalidTransition> {
        if from.can_become(to) {
            Ok(Self { from, to })
        } else {
            Err(InvalidTransition { from, to })
        }
    }

    /// What a report in `from` goes through to take `to`, the status of an incident it joins
    /// (a merge, a link): nothing when it already has that status.
    pub fn joining(
        from: ReportStatus,
        to: ReportStatus,
    ) -> Result<Option<Self>, InvalidTransition> {
        if from == to {
            Ok(None)
        } else {
            Self::new(from, to).map(Some)
        }
    }

    /// The reporter's dispute of a resolution at `now`, closed at `closed_at`: only a resolution
    /// can be disputed, and only within `window_days`.
    pub fn reopened_by_reporter(
        status: ReportStatus,
        closed_at: Option<chrono::DateTime<chrono::Utc>>,
        now: chrono::DateTime<chrono::Utc>,
        window_days: i32,
    ) -> Result<Self, Violation> {
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
                format!(
                    "a resolution can be disputed for {window_days} days; report it again instead"
                ),
            ));
        }
        Self::new(status, ReportStatus::Reopened)
            .map_err(|refused| Violation::new("not_reopenable", refused.to_string()))
    }

    pub fn from(self) -> ReportStatus {
        self.from
    }

    pub fn to(self) -> ReportStatus {
        self.to
    }

    /// Whether the move closes the problem (it then gets a closing time).
    pub fn closes(self) -> bool {
        self.to.is_closed()
    }
}

/// The status of an incident rebuilt from its reports' statuses (batch clustering of past
/// reports), each with whether it is closed and when it was created: while any report is open,
/// the newest open report's status; once all are closed, the newest report's. `None` without
/// reports.
pub fn status_of_reports(
    reports: &[(ReportStatus, chrono::DateTime<chrono::Utc>)],
) -> Option<ReportStatus> {
    let newest = |open: bool| {
        reports
            .iter()
            .filter(|(status, _)| status.is_closed() != open)
            .max_by_key(|(_, created_at)| *created_at)
            .map(|(status, _)| *status)
    };
    newest(true).or_else(|| newest(false))
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
        let reopened = Transition::reopened_by_reporter(Resolved, Some(closed), later(13), 14);
        assert_eq!(reopened.unwrap().to(), Reopened);
        assert_eq!(
            Transition::reopened_by_reporter(Resolved, Some(closed), later(15), 14)
                .unwrap_err()
                .code,
            "reopen_window_passed"
        );
        assert_eq!(
            Transition::reopened_by_reporter(Rejected, Some(closed), later(1), 14)
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

    #[test]
    fn transitions_are_only_what_the_machine_allows() {
        assert_eq!(
            Transition::new(InProgress, Acknowledged),
            Err(InvalidTransition {
                from: InProgress,
                to: Acknowledged
            })
        );
        let resolved = Transition::new(InProgress, Resolved).unwrap();
        assert!(resolved.closes());
        assert_eq!((resolved.from(), resolved.to()), (InProgress, Resolved));
        assert!(Transition::new(Resolved, Submitted).is_err());
        // Joining an incident in the same status changes nothing; a step back is refused.
        assert_eq!(Transition::joining(Scheduled, Scheduled), Ok(None));
        assert!(
            Transition::joining(Submitted, Acknowledged)
                .unwrap()
                .is_some()
        );
        assert!(Transition::joining(InProgress, Submitted).is_err());
        assert!(
            Transition::joining(Acknowledged, Resolved)
                .unwrap()
                .is_some()
        );
        assert!(Transition::joining(Duplicate, Resolved).is_err());
    }

    #[test]
    fn an_incident_rebuilt_from_reports_is_open_while_one_of_them_is() {
        let day = |d| {
            chrono::DateTime::parse_from_rfc3339("2015-01-01T00:00:00Z")
                .unwrap()
                .to_utc()
                + chrono::Duration::days(d)
        };
        assert_eq!(status_of_reports(&[]), None);
        // The newest report was closed as a duplicate of the first, still open: open.
        assert_eq!(
            status_of_reports(&[(Submitted, day(1)), (Duplicate, day(2))]),
            Some(Submitted)
        );
        assert_eq!(
            status_of_reports(&[(Resolved, day(1)), (Duplicate, day(2))]),
            Some(Duplicate)
        );
        assert_eq!(
            status_of_reports(&[
                (Acknowledged, day(1)),
                (Submitted, day(3)),
                (Resolved, day(5))
            ]),
            Some(Submitted)
        );
    }
}
