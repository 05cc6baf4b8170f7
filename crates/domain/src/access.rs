//! Who may do what: roles, the departments staff are scoped to, and the rules every staff
//! action is checked against, whatever the entry point.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{ContactEmail, Violation};

/// What an account is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reports problems and follows them; no staff rights.
    Resident,
    /// Works the queue of their departments: takes jobs, changes their status.
    Crew,
    /// A crew's rights, plus assigning jobs to others and merging or splitting incidents.
    Dispatcher,
    /// Every right in their jurisdiction: staff, departments, categories, areas, routes.
    Admin,
}

impl Role {
    pub const ALL: [Self; 4] = [Self::Resident, Self::Crew, Self::Dispatcher, Self::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Resident => "resident",
            Self::Crew => "crew",
            Self::Dispatcher => "dispatcher",
            Self::Admin => "admin",
        }
    }

    /// Whether the role belongs to a city's staff (and so to a jurisdiction).
    pub fn is_staff(self) -> bool {
        self != Self::Resident
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = Violation;
    fn from_str(text: &str) -> Result<Self, Violation> {
        Self::ALL
            .into_iter()
            .find(|role| role.as_str() == text)
            .ok_or_else(|| Violation::new("unknown_role", format!("unknown role {text:?}")))
    }
}

/// An account's sign-in address: a plausible email, lower-cased so one address is one account.
#[derive(Clone, PartialEq, Eq)]
pub struct AccountEmail(String);

impl AccountEmail {
    pub fn new(text: &str) -> Result<Self, Violation> {
        ContactEmail::new(text).map(|email| Self(email.as_str().to_lowercase()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AccountEmail {
    // Personal data stays out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccountEmail(<private>)")
    }
}

/// A new password: long enough to resist guessing, short enough to hash cheaply.
#[derive(Clone)]
pub struct NewPassword(String);

impl NewPassword {
    pub const MIN_CHARS: usize = 10;
    pub const MAX_CHARS: usize = 128;

    pub fn new(text: &str) -> Result<Self, Violation> {
        let length = text.chars().count();
        if length < Self::MIN_CHARS {
            return Err(Violation::new(
                "password_too_short",
                format!("a password needs at least {} characters", Self::MIN_CHARS),
            ));
        }
        if length > Self::MAX_CHARS {
            return Err(Violation::new(
                "too_long",
                format!("a password has at most {} characters", Self::MAX_CHARS),
            ));
        }
        if text.chars().all(|c| c == text.chars().next().unwrap_or(c)) {
            return Err(Violation::new(
                "password_too_weak",
                "a password of one repeated character is too easy to guess",
            ));
        }
        Ok(Self(text.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword(<secret>)")
    }
}

/// A random identifier an app keeps for its device, so that one phone supports an incident
/// once and a resident who signs up later can claim the reports made from it.
#[derive(Clone, PartialEq, Eq)]
pub struct DeviceId(String);

impl DeviceId {
    pub fn new(text: &str) -> Result<Self, Violation> {
        let text = text.trim();
        if !(8..=128).contains(&text.len()) || !text.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Violation::new(
                "invalid_device_id",
                "device_id must be 8 to 128 visible ASCII characters",
            ));
        }
        Ok(Self(text.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DeviceId(<private>)")
    }
}

/// The public reason given with a status change: residents read it, so it may not be empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation(String);

impl Explanation {
    pub const MAX_CHARS: usize = 2000;

    pub fn new(text: &str) -> Result<Self, Violation> {
        let text = text.trim();
        if text.chars().count() < 3 {
            return Err(Violation::new(
                "explanation_required",
                "every public status change needs an explanation residents can read",
            ));
        }
        if text.chars().count() > Self::MAX_CHARS {
            return Err(Violation::new(
                "too_long",
                format!("an explanation has at most {} characters", Self::MAX_CHARS),
            ));
        }
        Ok(Self(text.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Who is acting, as their verified token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user_id: i64,
    pub role: Role,
    /// The staff member's city; `None` for residents.
    pub jurisdiction_id: Option<i64>,
    /// The departments a crew member or dispatcher works for (admins act on all of their city's).
    pub department_ids: Vec<i64>,
}

/// A job as access rules see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobScope {
    pub jurisdiction_id: i64,
    pub department_id: Option<i64>,
    pub assignee_id: Option<i64>,
}

/// What staff do to a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobAction {
    /// Read the staff view of the job (assignee, internal notes).
    View,
    /// Assign the job to oneself.
    Take,
    /// Give the job back to the queue.
    Release,
    /// Assign the job to someone else.
    Assign,
    /// Move the job through the status machine.
    ChangeStatus,
    /// Merge incidents or split reports off one.
    MergeOrSplit,
    /// Hide a photo from the public, or show it again.
    Moderate,
}

/// Why an action is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("this needs a staff account")]
    NotStaff,
    #[error("this job belongs to another city or department")]
    OutOfScope,
    #[error("this needs the dispatcher or admin role")]
    NeedsDispatcher,
    #[error("this job is assigned to someone else")]
    AssignedToAnother,
}

impl Actor {
    /// Whether the actor works for `department` (admins: any department of their city).
    pub fn covers(&self, jurisdiction_id: i64, department_id: Option<i64>) -> bool {
        if self.jurisdiction_id != Some(jurisdiction_id) {
            return false;
        }
        match self.role {
            Role::Admin => true,
            Role::Crew | Role::Dispatcher => {
                department_id.is_some_and(|d| self.department_ids.contains(&d))
            }
            Role::Resident => false,
        }
    }

    /// Whether the actor may do `action` to `job`.
    pub fn may(&self, action: JobAction, job: JobScope) -> Result<(), Denied> {
        if !self.role.is_staff() {
            return Err(Denied::NotStaff);
        }
        if !self.covers(job.jurisdiction_id, job.department_id) {
            return Err(Denied::OutOfScope);
        }
        let dispatches = matches!(self.role, Role::Dispatcher | Role::Admin);
        match action {
            JobAction::View | JobAction::Take | JobAction::Moderate => Ok(()),
            JobAction::Assign | JobAction::MergeOrSplit if !dispatches => {
                Err(Denied::NeedsDispatcher)
            }
            JobAction::Assign | JobAction::MergeOrSplit => Ok(()),
            // A crew member works their own jobs and unassigned ones; dispatchers any.
            JobAction::Release | JobAction::ChangeStatus => match job.assignee_id {
                Some(assignee) if assignee != self.user_id && !dispatches => {
                    Err(Denied::AssignedToAnother)
                }
                _ => Ok(()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(role: Role, departments: &[i64]) -> Actor {
        Actor {
            user_id: 7,
            role,
            jurisdiction_id: (role != Role::Resident).then_some(1),
            department_ids: departments.to_vec(),
        }
    }

    const JOB: JobScope = JobScope {
        jurisdiction_id: 1,
        department_id: Some(10),
        assignee_id: None,
    };

    #[test]
    fn residents_act_on_no_job() {
        let resident = actor(Role::Resident, &[]);
        assert_eq!(resident.may(JobAction::View, JOB), Err(Denied::NotStaff));
    }

    #[test]
    fn crews_act_in_their_departments_only() {
        let crew = actor(Role::Crew, &[10]);
        assert_eq!(crew.may(JobAction::Take, JOB), Ok(()));
        let other = JobScope {
            department_id: Some(11),
            ..JOB
        };
        assert_eq!(crew.may(JobAction::Take, other), Err(Denied::OutOfScope));
        let unrouted = JobScope {
            department_id: None,
            ..JOB
        };
        assert_eq!(crew.may(JobAction::View, unrouted), Err(Denied::OutOfScope));
        let other_city = JobScope {
            jurisdiction_id: 2,
            ..JOB
        };
        let admin = actor(Role::Admin, &[]);
        assert_eq!(
            admin.may(JobAction::View, other_city),
            Err(Denied::OutOfScope)
        );
        assert_eq!(admin.may(JobAction::Assign, other), Ok(()));
    }

    #[test]
    fn only_dispatchers_assign_or_touch_others_jobs() {
        let crew = actor(Role::Crew, &[10]);
        let dispatcher = actor(Role::Dispatcher, &[10]);
        assert_eq!(
            crew.may(JobAction::Assign, JOB),
            Err(Denied::NeedsDispatcher)
        );
        assert_eq!(
            crew.may(JobAction::MergeOrSplit, JOB),
            Err(Denied::NeedsDispatcher)
        );
        let taken = JobScope {
            assignee_id: Some(99),
            ..JOB
        };
        assert_eq!(
            crew.may(JobAction::ChangeStatus, taken),
            Err(Denied::AssignedToAnother)
        );
        assert_eq!(
            crew.may(JobAction::Release, taken),
            Err(Denied::AssignedToAnother)
        );
        assert_eq!(dispatcher.may(JobAction::ChangeStatus, taken), Ok(()));
        let mine = JobScope {
            assignee_id: Some(7),
            ..JOB
        };
        assert_eq!(crew.may(JobAction::Release, mine), Ok(()));
    }

    #[test]
    fn emails_are_one_account_whatever_the_case() {
        assert_eq!(
            AccountEmail::new(" Ada@Example.ORG ").unwrap().as_str(),
            "ada@example.org"
        );
        assert!(AccountEmail::new("not-an-email").is_err());
    }

    #[test]
    fn passwords_and_explanations_are_bounded() {
        assert_eq!(
            NewPassword::new("short").unwrap_err().code,
            "password_too_short"
        );
        assert_eq!(
            NewPassword::new("aaaaaaaaaaaa").unwrap_err().code,
            "password_too_weak"
        );
        assert!(NewPassword::new("correct horse battery").is_ok());
        assert_eq!(
            Explanation::new("  ").unwrap_err().code,
            "explanation_required"
        );
        assert_eq!(
            Explanation::new(&"x".repeat(2001)).unwrap_err().code,
            "too_long"
        );
        assert!(
            format!("{:?}", NewPassword::new("correct horse battery").unwrap()).contains("secret")
        );
    }

    #[test]
    fn roles_round_trip() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
            assert_eq!(serde_json::to_value(role).unwrap(), role.as_str());
        }
    }
}
