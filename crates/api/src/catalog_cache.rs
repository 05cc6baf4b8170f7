//! The reference data every submission reads (a jurisdiction's active categories and routing
//! rules, and the vocabulary of each dedup group), kept in the server.
//!
//! A create report read the category and the routing rules (three statements of about
//! fourteen) on every request, though they change only when an admin edits the catalog. Here
//! they are kept for [`CATALOG_TTL`]: an admin change made through this server clears the copy
//! at once; one made through another replica or the CLI is seen within that second.
//!
//! A dedup group's vocabulary (which words of its open incidents' descriptions are common) drifts
//! slowly once the group has many open incidents, so it is then read again only when the
//! submission being scored is [`VOCABULARY_REFRESH`] away from the one it was read for; that
//! distance is measured in the submissions' own time, so a replay of history sees the
//! vocabulary of its own past. A small vocabulary (a new city, a rare kind of problem) changes
//! with every incident and is cheap to read: it is read for every submission.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use signalons_db::{AsyncPgConnection, QueryResult, catalog, incidents, models::Category};
use signalons_domain::{dedup::Vocabulary, routing::RouteRule};

/// How long a copy is used before it is read again.
pub const CATALOG_TTL: Duration = Duration::from_secs(1);
/// How far apart in time two submissions may use the same vocabulary.
pub const VOCABULARY_REFRESH: chrono::TimeDelta = chrono::TimeDelta::hours(6);
/// How many of a group's open incidents (the most recently reported) its vocabulary is read
/// from.
pub const VOCABULARY_SAMPLE: i64 = 2_000;
/// A vocabulary read from fewer descriptions is read again for every submission.
pub const VOCABULARY_SETTLED: usize = 200;

/// A jurisdiction's routing rules and its default department.
pub type RoutingRules = Arc<(Vec<RouteRule>, Option<i64>)>;

#[derive(Debug, Default)]
struct Copies {
    /// Bumped by [`CatalogCache::clear`]: a read that began before a clear does not store
    /// what it read, which may predate the change.
    generation: u64,
    categories: HashMap<(i64, String), (Instant, Category)>,
    routes: HashMap<i64, (Instant, RoutingRules)>,
    /// By jurisdiction and dedup group, with the submission time it was read for.
    vocabularies: HashMap<(i64, String), (DateTime<Utc>, Arc<Vocabulary>)>,
}

/// See the module documentation.
#[derive(Debug)]
pub struct CatalogCache {
    ttl: Duration,
    copies: Mutex<Copies>,
}

impl Default for CatalogCache {
    fn default() -> Self {
        Self::new(CATALOG_TTL)
    }
}

impl CatalogCache {
    /// A cache whose copies last `ttl` (zero: always read).
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            copies: Mutex::new(Copies::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Copies> {
        // The map holds plain copies: one left by a panicking thread is still sound.
        self.copies.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Forgets every copy (after an admin change of categories, areas or routes).
    pub fn clear(&self) {
        let mut copies = self.lock();
        copies.generation += 1;
        copies.categories.clear();
        copies.routes.clear();
        copies.vocabularies.clear();
    }

    fn fresh(&self, at: Instant) -> bool {
        at.elapsed() < self.ttl
    }

    /// The active category `code` of `jurisdiction`.
    pub async fn active_category(
        &self,
        conn: &mut AsyncPgConnection,
        jurisdiction: i64,
        code: &str,
    ) -> QueryResult<Option<Category>> {
        let key = (jurisdiction, code.to_owned());
        let generation = {
            let copies = self.lock();
            if let Some((at, category)) = copies.categories.get(&key)
                && self.fresh(*at)
            {
                return Ok(Some(category.clone()));
            }
            copies.generation
        };
        let found = catalog::find_active_category(conn, jurisdiction, code).await?;
        if let Some(category) = &found {
            let mut copies = self.lock();
            if copies.generation == generation {
                copies
                    .categories
                    .insert(key, (Instant::now(), category.clone()));
            }
        }
        Ok(found)
    }

    /// The routing rules and default department of `jurisdiction`.
    pub async fn routing_rules(
        &self,
        conn: &mut AsyncPgConnection,
        jurisdiction: i64,
    ) -> QueryResult<RoutingRules> {
        let generation = {
            let copies = self.lock();
            if let Some((at, rules)) = copies.routes.get(&jurisdiction)
                && self.fresh(*at)
            {
                return Ok(Arc::clone(rules));
            }
            copies.generation
        };
        let rules: RoutingRules = Arc::new(catalog::routing_rules(conn, jurisdiction).await?);
        let mut copies = self.lock();
        if copies.generation == generation {
            copies
                .routes
                .insert(jurisdiction, (Instant::now(), Arc::clone(&rules)));
        }
        Ok(rules)
    }

    /// The vocabulary of `dedup_group`'s open incidents in `jurisdiction`, for a submission
    /// made at `at`.
    pub async fn vocabulary(
        &self,
        conn: &mut AsyncPgConnection,
        jurisdiction: i64,
        dedup_group: &str,
        at: DateTime<Utc>,
    ) -> QueryResult<Arc<Vocabulary>> {
        let key = (jurisdiction, dedup_group.to_owned());
        let generation = {
            let copies = self.lock();
            if let Some((read_for, vocabulary)) = copies.vocabularies.get(&key)
                && vocabulary.descriptions() >= VOCABULARY_SETTLED
                && (at - *read_for).abs() < VOCABULARY_REFRESH
            {
                return Ok(Arc::clone(vocabulary));
            }
            copies.generation
        };
        let summaries =
            incidents::open_summaries(conn, jurisdiction, dedup_group, VOCABULARY_SAMPLE).await?;
        let vocabulary = Arc::new(Vocabulary::from_descriptions(
            summaries.iter().map(String::as_str),
        ));
        let mut copies = self.lock();
        if copies.generation == generation {
            copies
                .vocabularies
                .insert(key, (at, Arc::clone(&vocabulary)));
        }
        Ok(vocabulary)
    }
}
