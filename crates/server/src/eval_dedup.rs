//! `signalons eval-dedup`: replays real Boston cases in time order through the same submission
//! code as the API, against a scratch database, and measures duplicate detection against the
//! city crews' own labels.

use std::{
    cmp::Reverse,
    collections::{BinaryHeap, HashMap},
    path::Path,
    time::Instant,
};

use anyhow::Context;
use chrono::{DateTime, Utc};
use diesel::{OptionalExtension, QueryDsl};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use signalons_api::submission::{self, ReportDraft};
use signalons_db::{
    DbError, incidents, migrations,
    schema::{departments, reports},
};
use signalons_domain::{
    Address, CategoryCode, Description, GeoPoint, Latitude, Longitude, ReportSource, ReportStatus,
};
use signalons_import::boston::{self, Case, Catalog};

/// What the replay measured.
#[derive(Debug, Clone, Default)]
pub struct DedupFigures {
    pub submissions: usize,
    /// Cases closed as duplicates that name an earlier case of the replay.
    pub labelled_pairs: usize,
    /// Labelled pairs whose original was still open when the duplicate came in.
    pub pairs_with_open_original: usize,
    pub hits_at_1: usize,
    pub hits_at_3: usize,
    /// Submissions shown at least one candidate.
    pub shown: usize,
    pub auto_links: usize,
    /// Automatic links of cases the crews closed as duplicates.
    pub auto_links_labelled: usize,
    /// Automatic links of cases naming an original...
    pub auto_links_named: usize,
    /// ...that joined the original's incident.
    pub auto_links_to_named: usize,
    /// Submissions the city handled in a department the catalog models...
    pub routed_comparable: usize,
    /// ...that were routed to that same department.
    pub routed_agreeing: usize,
    pub seconds: f64,
}

fn ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

impl DedupFigures {
    pub fn render(&self) -> String {
        format!(
            "submissions replayed        {}\n\
             labelled duplicate pairs    {} (closed as duplicates naming an earlier case)\n\
             recall@1                    {:.3}\n\
             recall@3                    {:.3}\n\
             recall@3, original open     {:.3} ({} pairs whose original was still open)\n\
             shown any candidate         {:.3} of submissions\n\
             automatic links             {} ({:.3} of submissions)\n\
             link precision vs labels    {:.3} (lower bound: crews label few duplicates)\n\
             link precision, named pairs {:.3} ({} of {} linked to the named original)\n\
             routing agreement           {:.3} with the city's own department or district ({} cases)\n\
             replay throughput           {:.0} submissions/s ({:.1} s)\n",
            self.submissions,
            self.labelled_pairs,
            ratio(self.hits_at_1, self.labelled_pairs),
            ratio(self.hits_at_3, self.labelled_pairs),
            ratio(self.hits_at_3, self.pairs_with_open_original),
            self.pairs_with_open_original,
            ratio(self.shown, self.submissions),
            self.auto_links,
            ratio(self.auto_links, self.submissions),
            ratio(self.auto_links_labelled, self.auto_links),
            ratio(self.auto_links_to_named, self.auto_links_named),
            self.auto_links_to_named,
            self.auto_links_named,
            ratio(self.routed_agreeing, self.routed_comparable),
            self.routed_comparable,
            self.submissions as f64 / self.seconds.max(1e-9),
            self.seconds,
        )
    }
}

fn draft(case: &Case) -> anyhow::Result<ReportDraft> {
    let position = GeoPoint::new(
        Latitude::new(case.latitude)?,
        Longitude::new(case.longitude)?,
    );
    Ok(ReportDraft {
        reporter_id: None,
        device_hash: None,
        category: CategoryCode::new(&case.category)?,
        position,
        accuracy_m: None,
        address: case.address.as_deref().and_then(|a| Address::new(a).ok()),
        description: Description::new(&case.title).unwrap_or_default(),
        contact_email: None,
        source: ReportSource::Import,
        external_media_url: None,
        api_key_id: None,
        attributes: Default::default(),
    })
}

async fn incident_of(conn: &mut AsyncPgConnection, report: i64) -> Result<Option<i64>, DbError> {
    reports::table
        .find(report)
        .select(reports::incident_id)
        .first(conn)
        .await
        .optional()
}

/// A closure waiting for the replay clock: (when, report, status, explanation).
type Closure = Reverse<(DateTime<Utc>, i64, &'static str, String)>;

/// Replays `cases` (time-ordered) into the database behind `conn`, which holds the catalog.
pub async fn replay(conn: &mut AsyncPgConnection, cases: &[Case]) -> anyhow::Result<DedupFigures> {
    let started = Instant::now();
    let mut figures = DedupFigures::default();
    let mut report_of_case: HashMap<&str, i64> = HashMap::new();
    let mut closures: BinaryHeap<Closure> = BinaryHeap::new();
    // Nothing edits the catalog during a replay.
    let catalog = signalons_api::catalog_cache::CatalogCache::default();
    let department_codes: HashMap<i64, String> = departments::table
        .select((departments::id, departments::code))
        .load::<(i64, String)>(conn)
        .await?
        .into_iter()
        .collect();
    for case in cases {
        // Boston's times are local; replaying them as UTC keeps their order and gaps.
        let now = case.opened_at.and_utc();
        while let Some(Reverse((at, _, _, _))) = closures.peek()
            && *at <= now
        {
            let Some(Reverse((at, report, status, note))) = closures.pop() else {
                break;
            };
            let status: ReportStatus = status.parse()?;
            match incidents::close_report(conn, report, status, &note, at).await {
                Ok(Ok(())) | Err(DbError::NotFound) => {}
                Ok(Err(refused)) => return Err(refused.into()),
                Err(error) => return Err(error.into()),
            }
        }
        let draft = draft(case)?;
        let submitted = match submission::submit(conn, &catalog, &draft, None, now).await {
            Ok(submitted) => submitted,
            // Points in gaps between neighborhoods are refused, as the API would.
            Err(submission::SubmitError::OutsideJurisdiction) => continue,
            Err(error) => return Err(error).context("replaying a case"),
        };
        figures.submissions += 1;
        let expected = boston::city_department(case);
        if department_codes.values().any(|code| *code == expected) {
            figures.routed_comparable += 1;
            let routed = submitted
                .department_id
                .and_then(|id| department_codes.get(&id));
            if routed == Some(&expected) {
                figures.routed_agreeing += 1;
            }
        }
        if !submitted.candidates.is_empty() {
            figures.shown += 1;
        }
        let original = case
            .named_original()
            .and_then(|id| report_of_case.get(id).copied());
        let original_incident = match original {
            Some(report) => incident_of(conn, report).await?,
            None => None,
        };
        if let Some(expected) = original_incident {
            figures.labelled_pairs += 1;
            if incidents::is_open(conn, expected).await? == Some(true) {
                figures.pairs_with_open_original += 1;
            }
            let ranked: Vec<i64> = submitted.candidates.iter().map(|c| c.incident.id).collect();
            if matches!(ranked.as_slice(), [best, ..] if *best == expected) {
                figures.hits_at_1 += 1;
            }
            if ranked.iter().take(3).any(|id| *id == expected) {
                figures.hits_at_3 += 1;
            }
        }
        if submitted.linked {
            figures.auto_links += 1;
            if case.status == ReportStatus::Duplicate {
                figures.auto_links_labelled += 1;
            }
            if let Some(expected) = original_incident {
                figures.auto_links_named += 1;
                if incident_of(conn, submitted.report_id).await? == Some(expected) {
                    figures.auto_links_to_named += 1;
                }
            }
        }
        report_of_case.insert(&case.id, submitted.report_id);
        if let Some(closed) = case.closed_at {
            let note = if case.closure_reason.is_empty() {
                "Closed."
            } else {
                &case.closure_reason
            };
            closures.push(Reverse((
                closed.and_utc(),
                submitted.report_id,
                case.status.as_str(),
                note.to_owned(),
            )));
        }
    }
    figures.seconds = started.elapsed().as_secs_f64();
    Ok(figures)
}

/// Creates a scratch database next to `database_url`, loads the catalog from `demo_dir`,
/// replays the cases of `csv`, prints the figures and drops the database.
pub async fn run(database_url: &str, demo_dir: &Path, csv: &Path) -> anyhow::Result<DedupFigures> {
    let catalog = Catalog::load(demo_dir)?;
    let cases = boston::load_cases(csv, &catalog)?;
    let base = database_url
        .rsplit_once('/')
        .map_or(database_url, |(base, _)| base);
    let scratch = format!("signalons_eval_{}", std::process::id());
    let mut admin = AsyncPgConnection::establish(&format!("{base}/postgres"))
        .await
        .context("connecting to the PostgreSQL server to create a scratch database")?;
    diesel::sql_query(format!("DROP DATABASE IF EXISTS {scratch}"))
        .execute(&mut admin)
        .await?;
    diesel::sql_query(format!("CREATE DATABASE {scratch}"))
        .execute(&mut admin)
        .await?;
    let scratch_url = format!("{base}/{scratch}");
    let outcome = async {
        migrations::run(&scratch_url, migrations::Direction::Up)
            .await
            .map_err(|e| anyhow::anyhow!(e))?;
        let mut conn = AsyncPgConnection::establish(&scratch_url).await?;
        // A scratch database need not survive a crash: skip the flush on every commit.
        diesel::sql_query("SET synchronous_commit = off")
            .execute(&mut conn)
            .await?;
        boston::load(&mut conn, demo_dir, false).await?;
        replay(&mut conn, &cases).await
    }
    .await;
    diesel::sql_query(format!("DROP DATABASE IF EXISTS {scratch} WITH (FORCE)"))
        .execute(&mut admin)
        .await?;
    outcome
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDateTime;
    use signalons_test_support::{Contents, TestDatabase};

    use super::*;

    fn case(id: &str, minutes: i64, lat: f64, status: ReportStatus, closure: &str) -> Case {
        let start =
            NaiveDateTime::parse_from_str("2015-03-01T08:00:00", "%Y-%m-%dT%H:%M:%S").unwrap();
        Case {
            id: id.to_owned(),
            category: "street_light_out".to_owned(),
            latitude: lat,
            longitude: -71.0700,
            address: Some("1 Charles St Boston MA 02116".to_owned()),
            title: "Street Light Outages".to_owned(),
            status,
            opened_at: start + chrono::Duration::minutes(minutes),
            closed_at: (status != ReportStatus::Submitted)
                .then(|| start + chrono::Duration::minutes(minutes + 600)),
            closure_reason: closure.to_owned(),
            queue: "PWDx_Street Light Outages".to_owned(),
            department: "PWDx".to_owned(),
        }
    }

    #[tokio::test]
    async fn the_replay_measures_recall_shown_share_and_links() {
        let db = TestDatabase::new(Contents::BostonCatalog).await;
        let mut conn = db.connect().await;
        let cases = vec![
            case(
                "101001000001",
                0,
                42.3560,
                ReportStatus::Resolved,
                "Case Resolved",
            ),
            // The same pole an hour later, labelled by the crew with the original's number.
            case(
                "101001000002",
                60,
                42.3560,
                ReportStatus::Duplicate,
                "Duplicate of Existing Case 101001000001",
            ),
            // 2 km away: a different problem, nothing to show.
            case("101001000003", 90, 42.3380, ReportStatus::Submitted, ""),
            // After the original closed (at minute 600): nothing open to match any more.
            case("101001000004", 700, 42.3560, ReportStatus::Submitted, ""),
        ];
        let figures = replay(&mut conn, &cases).await.unwrap();
        assert_eq!(figures.submissions, 4);
        assert_eq!(figures.labelled_pairs, 1);
        assert_eq!((figures.hits_at_1, figures.hits_at_3), (1, 1));
        assert_eq!(
            figures.shown, 1,
            "only the second case had an open match nearby"
        );
        assert_eq!((figures.auto_links, figures.auto_links_labelled), (1, 1));
        assert_eq!(
            (figures.auto_links_named, figures.auto_links_to_named),
            (1, 1)
        );
        assert_eq!((figures.routed_comparable, figures.routed_agreeing), (4, 4));
        assert_eq!(db.count("incidents").await, 3);
        assert_eq!(db.count("incidents WHERE closed_at IS NULL").await, 2);
        let rendered = figures.render();
        assert!(
            rendered.contains("recall@3                    1.000"),
            "{rendered}"
        );
    }
}
