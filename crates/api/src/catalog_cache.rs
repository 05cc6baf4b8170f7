//! The reference data every submission reads (a jurisdiction's active categories and routing
//! rules), kept in the server for a second.
//!
//! A create report read the category and the routing rules (three statements of about
//! fourteen) on every request, though they change only when an admin edits the catalog. Here
//! they are kept for [`CATALOG_TTL`]: an admin change made through this server clears the copy
//! at once; one made through another replica or the CLI is seen within that second.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::{Duration, Instant},
};

use signalons_db::{AsyncPgConnection, QueryResult, catalog, models::Category};
use signalons_domain::routing::RouteRule;

/// How long a copy is used before it is read again.
pub const CATALOG_TTL: Duration = Duration::from_secs(1);

/// A jurisdiction's routing rules and its default department.
pub type RoutingRules = Arc<(Vec<RouteRule>, Option<i64>)>;

#[derive(Debug, Default)]
struct Copies {
    /// Bumped by [`CatalogCache::clear`]: a read that began before a clear does not store
    /// what it read, which may predate the change.
    generation: u64,
    categories: HashMap<(i64, String), (Instant, Category)>,
    routes: HashMap<i64, (Instant, RoutingRules)>,
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
}
