//! Migrations compiled into the binary, run through diesel-async's blocking wrapper.

use diesel::Connection;
use diesel_async::{AsyncPgConnection, async_connection_wrapper::AsyncConnectionWrapper};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

/// Every migration in `crates/db/migrations`, in order.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// A hash of the migrations' text, so test templates are rebuilt when a migration changes.
pub const FINGERPRINT: &str = env!("SIGNALONS_MIGRATIONS_FINGERPRINT");

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Which way to move the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Apply every pending migration.
    Up,
    /// Revert every applied migration.
    DownAll,
}

/// Runs the migrations in `direction` and returns the versions touched.
///
/// The harness blocks, so it runs on a blocking thread of a multi-thread tokio runtime (never
/// inside actix's current-thread runtime, where the wrapper's `block_on` would panic).
pub async fn run(database_url: &str, direction: Direction) -> Result<Vec<String>, BoxError> {
    let database_url = database_url.to_owned();
    tokio::task::spawn_blocking(move || -> Result<Vec<String>, BoxError> {
        let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::establish(&database_url)?;
        let versions = match direction {
            Direction::Up => conn.run_pending_migrations(MIGRATIONS)?,
            Direction::DownAll => conn.revert_all_migrations(MIGRATIONS)?,
        };
        Ok(versions.iter().map(ToString::to_string).collect())
    })
    .await?
}
