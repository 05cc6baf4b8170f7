use diesel_async::{
    AsyncPgConnection, RunQueryDsl,
    pooled_connection::{AsyncDieselConnectionManager, deadpool},
};

/// A pool of asynchronous PostgreSQL connections.
pub type DbPool = deadpool::Pool<AsyncPgConnection>;
/// A connection borrowed from the pool; returned to it when dropped.
pub type DbConn = deadpool::Object<AsyncPgConnection>;
/// Why a connection could not be borrowed.
pub type PoolError = deadpool::PoolError;

/// Builds a pool; connections are opened lazily, on first use.
pub fn build_pool(database_url: &str, max_size: usize) -> Result<DbPool, deadpool::BuildError> {
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new(database_url);
    DbPool::builder(manager).max_size(max_size).build()
}

/// Whether the database answers a trivial query.
pub async fn ping(conn: &mut AsyncPgConnection) -> diesel::QueryResult<()> {
    diesel::sql_query("SELECT 1")
        .execute(conn)
        .await
        .map(|_| ())
}
