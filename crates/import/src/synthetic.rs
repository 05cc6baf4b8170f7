//! Synthetic reports at any scale, following the Boston demo: each one is a real 2015 case
//! (category, neighborhood, department, words, how long it stayed open) moved by a few tens of
//! metres and to a random moment of a span that grows with the count at Boston's own rate, so
//! density, categories and statuses look like a city that kept reporting for years.

use std::{collections::HashMap, path::Path, time::Instant};

use chrono::{DateTime, Duration, Utc};
use signalons_db::{
    AsyncPgConnection,
    bulk::{self, BulkConnection, BulkReport},
    import::HistoricalReport,
};
use signalons_domain::ReportStatus;

use crate::boston::{self, DemoError};

/// Reports a year in Boston (about 270,000): the span of synthetic reports grows at this rate.
pub const REPORTS_PER_YEAR: f64 = 270_000.0;
/// The shortest span reports are spread over, in days (the demo's own four months).
pub const MIN_SPAN_DAYS: f64 = 120.0;
/// Standard deviation of the random move of each position, in metres.
pub const JITTER_M: f64 = 25.0;
/// Reports stored per transaction.
pub const BATCH: usize = 20_000;

/// A small, fast, seedable generator (SplitMix64): the same seed gives the same reports.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in 0..n (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.unit() * n as f64) as usize % n.max(1)
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u = 1.0 - self.unit();
        let v = self.unit();
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

/// One real case the synthetic reports are drawn from.
#[derive(Debug, Clone)]
pub struct Sample {
    pub case: HistoricalReport,
    pub dedup_group: String,
    /// How long the case stayed open, when it was closed.
    pub open_for: Option<Duration>,
}

impl Sample {
    pub fn new(case: HistoricalReport, dedup_group: String) -> Self {
        let open_for = case.closed_at.map(|closed| closed - case.opened_at);
        Self {
            case,
            dedup_group,
            open_for,
        }
    }
}

/// A synthetic report before storage.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticReport {
    /// Index of the sample it was drawn from.
    pub sample: usize,
    pub longitude: f64,
    pub latitude: f64,
    pub status: ReportStatus,
    pub created_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

/// The span `count` reports cover at Boston's rate (at least [`MIN_SPAN_DAYS`]).
pub fn span_for(count: u64) -> Duration {
    let days = (count as f64 / REPORTS_PER_YEAR * 365.0).max(MIN_SPAN_DAYS);
    Duration::seconds((days * 86_400.0) as i64)
}

/// Draws synthetic reports from samples.
#[derive(Debug, Clone)]
pub struct Synthesizer<'a> {
    samples: &'a [Sample],
    rng: SplitMix64,
    now: DateTime<Utc>,
    span: Duration,
}

impl<'a> Synthesizer<'a> {
    /// Reports spread over `span` before `now`, drawn from non-empty `samples`.
    pub fn new(samples: &'a [Sample], seed: u64, now: DateTime<Utc>, span: Duration) -> Self {
        Self {
            samples,
            rng: SplitMix64::new(seed),
            now,
            span,
        }
    }

    pub fn samples(&self) -> &'a [Sample] {
        self.samples
    }

    /// The next report: a random sample, moved by [`JITTER_M`] and to a random moment of the
    /// span; closed as its sample was if that much time has passed since, else still open.
    pub fn draw(&mut self) -> SyntheticReport {
        let index = self.rng.below(self.samples.len());
        let sample = &self.samples[index];
        let north_m = self.rng.normal() * JITTER_M;
        let east_m = self.rng.normal() * JITTER_M;
        let latitude = sample.case.latitude + north_m / 111_320.0;
        let longitude =
            sample.case.longitude + east_m / (111_320.0 * sample.case.latitude.to_radians().cos());
        let age = Duration::seconds((self.rng.unit() * self.span.num_seconds() as f64) as i64);
        let created_at = self.now - age;
        let closed_at = sample
            .open_for
            .map(|open_for| created_at + open_for)
            .filter(|closed| *closed <= self.now);
        let status = match closed_at {
            Some(_) => sample
                .case
                .status
                .parse::<ReportStatus>()
                .unwrap_or(ReportStatus::Resolved),
            None => ReportStatus::Submitted,
        };
        SyntheticReport {
            sample: index,
            longitude,
            latitude,
            status,
            created_at,
            closed_at,
        }
    }
}

/// How many synthetic reports to add.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Amount {
    /// Until the jurisdiction holds this many reports in all (idempotent: nothing when it has).
    Total(u64),
    /// This many more, whatever is there.
    Add(u64),
}

/// What a synthetic load did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SyntheticSummary {
    pub before: u64,
    pub added: u64,
    pub seconds: f64,
    pub reports_per_second: f64,
}

/// Makes sure the Boston catalog is loaded (idempotent), then adds synthetic reports drawn
/// from the demo's cases. Existing rows, the demo's included, are never changed.
pub async fn load(
    conn: &mut AsyncPgConnection,
    bulk: &mut BulkConnection,
    dir: &Path,
    amount: Amount,
    seed: u64,
) -> Result<SyntheticSummary, DemoError> {
    let demo = boston::load_demo_catalog(conn, dir).await?;
    let jurisdiction = demo.summary.jurisdiction_id;
    let (categories, dedup_groups) = (&demo.categories, &demo.dedup_groups);
    let group_of_id: HashMap<i64, &String> = categories
        .iter()
        .filter_map(|(code, (id, _))| Some((*id, dedup_groups.get(code)?)))
        .collect();
    let routed =
        boston::route_cases(conn, jurisdiction, categories, dedup_groups, &demo.cases).await?;
    let samples: Vec<Sample> = routed
        .into_iter()
        .filter_map(|case| {
            let group = (*group_of_id.get(&case.category_id)?).clone();
            Some(Sample::new(case, group))
        })
        .collect();
    if samples.is_empty() {
        return Err(DemoError::Inconsistent("no demo case to draw from".into()));
    }

    let bulk_error = |e: bulk::BulkError| DemoError::Inconsistent(format!("bulk load: {e}"));
    let before = u64::try_from(bulk.report_count(jurisdiction).await.map_err(bulk_error)?)
        .unwrap_or_default();
    let to_add = match amount {
        Amount::Total(total) => total.saturating_sub(before),
        Amount::Add(count) => count,
    };
    let started = Instant::now();
    let mut synthesizer = Synthesizer::new(
        &samples,
        seed ^ before,
        Utc::now(),
        span_for(before + to_add),
    );
    let mut added = 0u64;
    while added < to_add {
        let size = usize::try_from((to_add - added).min(BATCH as u64)).unwrap_or(BATCH);
        let drawn: Vec<SyntheticReport> = (0..size).map(|_| synthesizer.draw()).collect();
        let batch: Vec<BulkReport<'_>> = drawn
            .iter()
            .map(|report| {
                let sample = &synthesizer.samples()[report.sample];
                BulkReport {
                    jurisdiction_id: jurisdiction,
                    category_id: sample.case.category_id,
                    dedup_group: &sample.dedup_group,
                    longitude: report.longitude,
                    latitude: report.latitude,
                    address: sample.case.address.as_deref(),
                    description: &sample.case.description,
                    status: report.status.as_str(),
                    priority: sample.case.priority,
                    department_id: sample.case.department_id,
                    service_area_id: sample.case.service_area_id,
                    source: "api",
                    created_at: report.created_at,
                    closed_at: report.closed_at,
                    closure_note: &sample.case.closure_note,
                }
            })
            .collect();
        added += bulk.insert_reports(&batch).await.map_err(bulk_error)?;
        let seconds = started.elapsed().as_secs_f64();
        tracing::info!(
            added,
            of = to_add,
            rate = (added as f64 / seconds.max(1e-9)).round(),
            "synthetic reports stored"
        );
    }
    if added > 0 {
        bulk.analyze().await.map_err(bulk_error)?;
    }
    let seconds = started.elapsed().as_secs_f64();
    Ok(SyntheticSummary {
        before,
        added,
        seconds,
        reports_per_second: added as f64 / seconds.max(1e-9),
    })
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    fn sample(status: &'static str, open_days: Option<i64>) -> Sample {
        let opened_at = NaiveDate::from_ymd_opt(2015, 2, 1)
            .unwrap()
            .and_hms_opt(9, 0, 0)
            .unwrap();
        Sample::new(
            HistoricalReport {
                external_id: "1".into(),
                category_id: 7,
                longitude: -71.06,
                latitude: 42.36,
                address: None,
                description: "Pothole".into(),
                status,
                priority: 3,
                department_id: Some(2),
                service_area_id: Some(3),
                opened_at,
                closed_at: open_days.map(|days| opened_at + Duration::days(days)),
                closure_note: String::new(),
            },
            "road_surface".into(),
        )
    }

    #[test]
    fn the_same_seed_draws_the_same_reports() {
        let samples = [sample("resolved", Some(3)), sample("submitted", None)];
        let now = Utc::now();
        let draw = |seed| {
            let mut synthesizer = Synthesizer::new(&samples, seed, now, Duration::days(365));
            (0..50).map(|_| synthesizer.draw()).collect::<Vec<_>>()
        };
        assert_eq!(draw(1), draw(1));
        assert_ne!(draw(1), draw(2));
    }

    #[test]
    fn reports_stay_near_their_sample_within_the_span() {
        let samples = [sample("resolved", Some(3))];
        let now = Utc::now();
        let mut synthesizer = Synthesizer::new(&samples, 9, now, Duration::days(365));
        let drawn: Vec<_> = (0..10_000).map(|_| synthesizer.draw()).collect();
        for report in &drawn {
            let north_m = (report.latitude - 42.36) * 111_320.0;
            assert!(north_m.abs() < JITTER_M * 6.0, "{north_m} m");
            assert!(report.created_at <= now && report.created_at >= now - Duration::days(365));
        }
        let mean_north =
            drawn.iter().map(|r| r.latitude - 42.36).sum::<f64>() / drawn.len() as f64 * 111_320.0;
        assert!(mean_north.abs() < 2.0, "mean offset {mean_north} m");
    }

    #[test]
    fn closed_samples_close_after_their_delay_and_open_ones_stay_open() {
        let samples = [sample("duplicate", Some(30)), sample("submitted", None)];
        let now = Utc::now();
        let mut synthesizer = Synthesizer::new(&samples, 3, now, Duration::days(300));
        let drawn: Vec<_> = (0..2_000).map(|_| synthesizer.draw()).collect();
        for report in &drawn {
            match report.closed_at {
                Some(closed) => {
                    assert_eq!(report.sample, 0);
                    assert_eq!(report.status, ReportStatus::Duplicate);
                    assert_eq!(closed - report.created_at, Duration::days(30));
                }
                None => assert_eq!(report.status, ReportStatus::Submitted),
            }
        }
        let recent_closed = drawn
            .iter()
            .filter(|r| r.sample == 0 && now - r.created_at < Duration::days(30))
            .all(|r| r.closed_at.is_none());
        assert!(recent_closed, "a case younger than its delay is still open");
        assert!(drawn.iter().any(|r| r.closed_at.is_some()));
    }

    #[test]
    fn the_span_grows_at_bostons_rate() {
        assert_eq!(span_for(10_000), Duration::days(120));
        let ten_years = span_for(2_700_000).num_days();
        assert!((3649..=3651).contains(&ten_years), "{ten_years}");
    }
}
