//! `signalons eval-dedup`: replays real Boston cases in time order through the same submission
//! code as the API, against a scratch database, and measures duplicate detection against the
//! city crews' own labels.

use std::{
    cmp::Reverse,
    collections::{BTreeMap, BinaryHeap, HashMap},
    fmt::Write as _,
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
    dedup::distance_m,
};
use signalons_import::boston::{self, Case, CaseFile, Catalog};

/// The share `hits / trials` with its 95% Wilson score interval `(share, low, high)`: the
/// range of true rates these counts are compatible with.
pub fn wilson_interval(hits: usize, trials: usize) -> (f64, f64, f64) {
    if trials == 0 {
        return (0.0, 0.0, 1.0);
    }
    let z: f64 = 1.96;
    let n = trials as f64;
    let p = hits as f64 / n;
    let denominator = 1.0 + z * z / n;
    let centre = (p + z * z / (2.0 * n)) / denominator;
    let half = z / denominator * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt();
    (p, (centre - half).max(0.0), (centre + half).min(1.0))
}

/// What one month (of submission times), or one category, measured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PeriodFigures {
    pub submissions: usize,
    pub shown: usize,
    pub labelled_pairs: usize,
    pub hits_at_3: usize,
}

impl PeriodFigures {
    fn add(&mut self, other: Self) {
        self.submissions += other.submissions;
        self.shown += other.shown;
        self.labelled_pairs += other.labelled_pairs;
        self.hits_at_3 += other.hits_at_3;
    }
}

/// A labelled pair whose original was not among the first three candidates.
#[derive(Debug, Clone, PartialEq)]
pub struct Miss {
    pub case: String,
    pub original: String,
    pub category: String,
    pub original_category: String,
    pub distance_m: f64,
    /// Days from the original incident's opening to the duplicate.
    pub age_days: f64,
    pub original_open: bool,
    pub candidates_shown: usize,
}

/// What the replay measured.
#[derive(Debug, Clone, Default)]
pub struct DedupFigures {
    /// How the export's rows became cases (when read from a file).
    pub rows: Option<CaseFile>,
    /// Located cases of modelled types refused at submission (outside every neighborhood).
    pub outside: usize,
    pub submissions: usize,
    /// Cases closed as duplicates that name an earlier case of the replay.
    pub labelled_pairs: usize,
    /// Labelled pairs whose original was still open when the duplicate came in.
    pub pairs_with_open_original: usize,
    pub hits_at_1: usize,
    pub hits_at_3: usize,
    /// Hits at 3 among pairs whose original was open.
    pub hits_at_3_open: usize,
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
    /// By month of submission (`2015-03`).
    pub by_month: BTreeMap<String, PeriodFigures>,
    /// By category of the submission.
    pub by_category: BTreeMap<String, PeriodFigures>,
    pub misses: Vec<Miss>,
    pub seconds: f64,
}

fn ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

fn share_with_interval(hits: usize, trials: usize) -> String {
    let (share, low, high) = wilson_interval(hits, trials);
    format!("{share:.3} ({hits} of {trials}; 95% interval {low:.3}-{high:.3})")
}

impl DedupFigures {
    /// The figures as printed by `signalons eval-dedup`; `detail` adds the figures of each
    /// category and the missed pairs.
    pub fn render(&self, detail: bool) -> String {
        let mut out = String::new();
        if let Some(rows) = &self.rows {
            let _ = writeln!(
                out,
                "rows read                   {} ({} of types the catalog does not model, {} without \
                 a position, {} without an opening time, {} unreadable)",
                rows.rows,
                rows.unmodelled_type,
                rows.no_location,
                rows.no_opening_time,
                rows.malformed_rows,
            );
        }
        let _ = write!(
            out,
            "submissions replayed        {} ({} outside every service area, skipped)\n\
             labelled duplicate pairs    {} (closed as duplicates naming an earlier case)\n\
             recall@1                    {}\n\
             recall@3                    {}\n\
             recall@3, original open     {:.3} ({} pairs whose original was still open)\n\
             shown any candidate         {:.4} of submissions ({} of {})\n\
             automatic links             {} ({:.3} of submissions)\n\
             link precision vs labels    {:.3} (lower bound: crews label few duplicates)\n\
             link precision, named pairs {:.3} ({} of {} linked to the named original)\n\
             routing agreement           {:.3} with the city's own department or district ({} cases)\n\
             replay throughput           {:.0} submissions/s ({:.1} s)\n",
            self.submissions,
            self.outside,
            self.labelled_pairs,
            share_with_interval(self.hits_at_1, self.labelled_pairs),
            share_with_interval(self.hits_at_3, self.labelled_pairs),
            ratio(self.hits_at_3_open, self.pairs_with_open_original),
            self.pairs_with_open_original,
            ratio(self.shown, self.submissions),
            self.shown,
            self.submissions,
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
        );
        out.push_str(&period_table("by month", &self.by_month));
        if detail {
            out.push_str(&period_table("by category", &self.by_category));
        }
        if detail {
            let _ = writeln!(out, "missed pairs ({})", self.misses.len());
            for miss in &self.misses {
                let _ = writeln!(
                    out,
                    "  {} {} -> {} {}: {:.0} m, {:.1} days after it opened, original {}, {} \
                     candidates shown",
                    miss.case,
                    miss.category,
                    miss.original,
                    miss.original_category,
                    miss.distance_m,
                    miss.age_days,
                    if miss.original_open { "open" } else { "closed" },
                    miss.candidates_shown,
                );
            }
        }
        out
    }
}

/// One line per period or category: submissions, how many were shown candidates, labelled
/// pairs and recall@3 with its 95% interval.
fn period_table(title: &str, periods: &BTreeMap<String, PeriodFigures>) -> String {
    let mut out = format!(
        "{title:<27} {:>11} {:>15} {:>6}  recall@3\n",
        "submissions", "shown", "pairs"
    );
    for (name, figures) in periods {
        let recall = if figures.labelled_pairs == 0 {
            "-".to_owned()
        } else {
            let (share, low, high) = wilson_interval(figures.hits_at_3, figures.labelled_pairs);
            format!("{share:.3} ({low:.3}-{high:.3})")
        };
        let _ = writeln!(
            out,
            "  {name:<25} {:>11} {:>6} ({:.3}) {:>6}  {recall}",
            figures.submissions,
            figures.shown,
            ratio(figures.shown, figures.submissions),
            figures.labelled_pairs,
        );
    }
    out
}

fn draft(case: &Case) -> Option<ReportDraft> {
    let position = GeoPoint::new(
        Latitude::new(case.latitude).ok()?,
        Longitude::new(case.longitude).ok()?,
    );
    Some(ReportDraft {
        reporter_id: None,
        device_hash: None,
        category: CategoryCode::new(&case.category).ok()?,
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
        let Some(draft) = draft(case) else {
            figures.outside += 1;
            continue;
        };
        let submitted = match submission::submit(conn, &catalog, &draft, None, now).await {
            Ok(submitted) => submitted,
            // Points in gaps between neighborhoods are refused, as the API would; a category
            // that needs an account cannot be replayed from an export.
            Err(
                submission::SubmitError::OutsideJurisdiction
                | submission::SubmitError::AccountRequired(_),
            ) => {
                figures.outside += 1;
                continue;
            }
            Err(error) => return Err(error).context("replaying a case"),
        };
        figures.submissions += 1;
        let mut this = PeriodFigures {
            submissions: 1,
            ..PeriodFigures::default()
        };
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
            this.shown = 1;
        }
        let original = case
            .named_original()
            .and_then(|id| report_of_case.get(id).map(|report| (id, *report)));
        let original_incident = match original {
            Some((_, report)) => incident_of(conn, report).await?,
            None => None,
        };
        if let (Some(expected), Some((original_case, _))) = (original_incident, original) {
            figures.labelled_pairs += 1;
            this.labelled_pairs = 1;
            let original_open = incidents::is_open(conn, expected).await? == Some(true);
            if original_open {
                figures.pairs_with_open_original += 1;
            }
            let ranked: Vec<i64> = submitted.candidates.iter().map(|c| c.incident.id).collect();
            if matches!(ranked.as_slice(), [best, ..] if *best == expected) {
                figures.hits_at_1 += 1;
            }
            if ranked.iter().take(3).any(|id| *id == expected) {
                figures.hits_at_3 += 1;
                this.hits_at_3 = 1;
                if original_open {
                    figures.hits_at_3_open += 1;
                }
            } else if let Some(incident) = incidents::find_public(conn, expected).await? {
                let there = GeoPoint::new(
                    Latitude::new(incident.location.y)?,
                    Longitude::new(incident.location.x)?,
                );
                figures.misses.push(Miss {
                    case: case.id.clone(),
                    original: original_case.to_owned(),
                    category: case.category.clone(),
                    original_category: incident.category_code,
                    distance_m: distance_m(draft.position, there),
                    age_days: (now - incident.created_at).num_seconds() as f64 / 86_400.0,
                    original_open,
                    candidates_shown: ranked.len(),
                });
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
        for period in [
            figures
                .by_month
                .entry(case.opened_at.format("%Y-%m").to_string())
                .or_default(),
            figures
                .by_category
                .entry(case.category.clone())
                .or_default(),
        ] {
            period.add(this);
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
    let file = boston::read_cases(csv, &catalog)?;
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
        replay(&mut conn, &file.cases).await
    }
    .await
    .map(|figures| DedupFigures {
        rows: Some(CaseFile {
            cases: Vec::new(),
            ..file
        }),
        ..figures
    });
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
            NaiveDateTime::parse_from_str("2015-02-28T08:00:00", "%Y-%m-%dT%H:%M:%S").unwrap();
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

    #[test]
    fn the_wilson_interval_brackets_the_share() {
        let (share, low, high) = wilson_interval(132, 140);
        assert!((share - 0.942_857).abs() < 1e-6);
        assert!(
            (low - 0.8913).abs() < 1e-3 && (high - 0.9707).abs() < 1e-3,
            "{low} {high}"
        );
        let (share, low, high) = wilson_interval(10, 10);
        assert_eq!((share, high), (1.0, 1.0));
        assert!((low - 0.7225).abs() < 1e-3, "{low}");
        assert_eq!(wilson_interval(0, 0), (0.0, 0.0, 1.0));
    }

    #[tokio::test]
    async fn the_replay_measures_recall_shown_share_and_links() {
        let db = TestDatabase::new(Contents::BostonCatalog).await;
        let mut conn = db.connect().await;
        let mut outside = case("101001000006", 1600, 42.2000, ReportStatus::Submitted, "");
        outside.longitude = -71.3000;
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
            // The next day (another month), after the original closed (at minute 600):
            // nothing open to match any more.
            case("101001000004", 1500, 42.3560, ReportStatus::Submitted, ""),
            // Named by the crew as a duplicate of the case 2 km away: a miss, while the open
            // incident of the same pole is linked.
            case(
                "101001000005",
                1560,
                42.3560,
                ReportStatus::Duplicate,
                "Duplicate of Existing Case 101001000003",
            ),
            // Outside every neighborhood: refused as the API would, and counted.
            outside,
        ];
        let figures = replay(&mut conn, &cases).await.unwrap();
        assert_eq!((figures.submissions, figures.outside), (5, 1));
        assert_eq!(figures.labelled_pairs, 2);
        assert_eq!((figures.hits_at_1, figures.hits_at_3), (1, 1));
        assert_eq!(
            figures.shown, 2,
            "only the second and fifth cases had an open match nearby"
        );
        assert_eq!((figures.auto_links, figures.auto_links_labelled), (2, 2));
        assert_eq!(
            (figures.auto_links_named, figures.auto_links_to_named),
            (2, 1)
        );
        assert_eq!((figures.routed_comparable, figures.routed_agreeing), (5, 5));
        assert_eq!(
            figures.by_month.get("2015-02"),
            Some(&PeriodFigures {
                submissions: 3,
                shown: 1,
                labelled_pairs: 1,
                hits_at_3: 1
            })
        );
        assert_eq!(
            figures.by_month.get("2015-03"),
            Some(&PeriodFigures {
                submissions: 2,
                shown: 1,
                labelled_pairs: 1,
                hits_at_3: 0
            })
        );
        let [miss] = figures.misses.as_slice() else {
            panic!("{:?}", figures.misses);
        };
        assert_eq!(
            (miss.case.as_str(), miss.original.as_str()),
            ("101001000005", "101001000003")
        );
        assert!(miss.original_open);
        assert!((miss.distance_m - 2000.0).abs() < 50.0, "{miss:?}");
        assert_eq!(miss.candidates_shown, 1);
        assert_eq!(db.count("incidents").await, 3);
        assert_eq!(db.count("incidents WHERE closed_at IS NULL").await, 2);
        let rendered = figures.render(true);
        assert!(
            rendered
                .contains("recall@3                    0.500 (1 of 2; 95% interval 0.095-0.905)"),
            "{rendered}"
        );
        assert!(rendered.contains("  2015-03"), "{rendered}");
        assert!(
            rendered
                .contains("  street_light_out                    5      2 (0.400)      2  0.500"),
            "{rendered}"
        );
        assert!(
            rendered.contains("101001000005 street_light_out -> 101001000003 street_light_out"),
            "{rendered}"
        );
        assert!(!figures.render(false).contains("missed pairs"));
    }
}
