//! Loading many reports at once with COPY, through tokio-postgres (diesel-async has no COPY).
//! Each batch lands whole or not at all: incidents, reports, their public history and their map
//! counts in one transaction.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::SinkExt;
use tokio_postgres::{Client, NoTls, Transaction};

use crate::map::FOLD_INTO_CELLS;

/// Why a bulk load failed.
pub type BulkError = tokio_postgres::Error;

/// A report to load with an incident of its own (one report, no supporters yet).
#[derive(Debug, Clone)]
pub struct BulkReport<'a> {
    pub jurisdiction_id: i64,
    pub category_id: i64,
    pub dedup_group: &'a str,
    pub longitude: f64,
    pub latitude: f64,
    pub address: Option<&'a str>,
    pub description: &'a str,
    pub status: &'static str,
    pub priority: i16,
    pub department_id: Option<i64>,
    pub service_area_id: Option<i64>,
    /// `api`, `pwa`, `import`...
    pub source: &'static str,
    pub created_at: DateTime<Utc>,
    /// Set when `status` is a closed one.
    pub closed_at: Option<DateTime<Utc>>,
    /// The public explanation of the closure.
    pub closure_note: &'a str,
}

/// A connection for bulk loads.
pub struct BulkConnection {
    client: Client,
    driver: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for BulkConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BulkConnection").finish_non_exhaustive()
    }
}

impl Drop for BulkConnection {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// Opens a bulk connection to `database_url` (a `postgres://` URL, as for the pool).
pub async fn connect(database_url: &str) -> Result<BulkConnection, BulkError> {
    let (client, connection) = tokio_postgres::connect(database_url, NoTls).await?;
    let driver = tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::warn!(%error, "bulk connection closed");
        }
    });
    Ok(BulkConnection { client, driver })
}

/// Appends `text` to a COPY text-format row, escaped (`\N` for `None`).
fn push_field(row: &mut String, text: Option<&str>) {
    let Some(text) = text else {
        row.push_str("\\N");
        return;
    };
    for c in text.chars() {
        match c {
            '\\' => row.push_str("\\\\"),
            '\t' => row.push_str("\\t"),
            '\n' => row.push_str("\\n"),
            '\r' => row.push_str("\\r"),
            c => row.push(c),
        }
    }
}

/// Appends the fields of one row, tab-separated, and ends the line.
fn push_row(buffer: &mut String, fields: &[Option<&str>]) {
    for (index, field) in fields.iter().enumerate() {
        if index > 0 {
            buffer.push('\t');
        }
        push_field(buffer, *field);
    }
    buffer.push('\n');
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S%.6f+00").to_string()
}

async fn reserve_ids(tx: &Transaction<'_>, table: &str, n: usize) -> Result<Vec<i64>, BulkError> {
    let rows = tx
        .query(
            "SELECT nextval(pg_get_serial_sequence($1, 'id')) FROM generate_series(1, $2::bigint)",
            &[&table, &i64::try_from(n).unwrap_or(i64::MAX)],
        )
        .await?;
    Ok(rows.iter().map(|row| row.get::<_, i64>(0)).collect())
}

async fn copy(tx: &Transaction<'_>, statement: &str, data: String) -> Result<u64, BulkError> {
    let sink = tx.copy_in::<_, Bytes>(statement).await?;
    futures_util::pin_mut!(sink);
    sink.send(Bytes::from(data)).await?;
    sink.finish().await
}

impl BulkConnection {
    /// How many reports a jurisdiction has.
    pub async fn report_count(&self, jurisdiction: i64) -> Result<i64, BulkError> {
        let row = self
            .client
            .query_one(
                "SELECT count(*) FROM reports WHERE jurisdiction_id = $1",
                &[&jurisdiction],
            )
            .await?;
        Ok(row.get(0))
    }

    /// Stores `reports`, each with its own incident and public history, and counts them on the
    /// map, in one transaction. Returns how many reports were stored.
    pub async fn insert_reports(&mut self, reports: &[BulkReport<'_>]) -> Result<u64, BulkError> {
        let tx = self.client.transaction().await?;
        let incident_ids = reserve_ids(&tx, "incidents", reports.len()).await?;
        let report_ids = reserve_ids(&tx, "reports", reports.len()).await?;
        let mut incidents = String::with_capacity(reports.len() * 200);
        let mut rows = String::with_capacity(reports.len() * 250);
        let mut events = String::with_capacity(reports.len() * 80);
        for ((report, incident_id), report_id) in reports.iter().zip(&incident_ids).zip(&report_ids)
        {
            let location = format!("SRID=4326;POINT({} {})", report.longitude, report.latitude);
            let created = timestamp(report.created_at);
            let closed = report.closed_at.map(timestamp);
            let updated = closed.as_deref().unwrap_or(&created);
            let ids = [
                incident_id.to_string(),
                report_id.to_string(),
                report.jurisdiction_id.to_string(),
                report.category_id.to_string(),
                report.priority.to_string(),
            ];
            let department = report.department_id.map(|id| id.to_string());
            let area = report.service_area_id.map(|id| id.to_string());
            push_row(
                &mut incidents,
                &[
                    Some(&ids[0]),
                    Some(&ids[2]),
                    Some(&ids[3]),
                    Some(report.dedup_group),
                    Some(&location),
                    Some(report.status),
                    Some(&ids[4]),
                    department.as_deref(),
                    area.as_deref(),
                    Some("1"),
                    Some(&created),
                    Some(updated),
                    closed.as_deref(),
                    report.address,
                    Some(report.description),
                    Some(&created),
                ],
            );
            push_row(
                &mut rows,
                &[
                    Some(&ids[1]),
                    Some(&ids[2]),
                    Some(&ids[3]),
                    Some(&ids[0]),
                    Some(&location),
                    report.address,
                    Some(report.description),
                    Some(report.status),
                    Some(&ids[4]),
                    department.as_deref(),
                    area.as_deref(),
                    Some(report.source),
                    Some(&created),
                    Some(updated),
                    closed.as_deref(),
                    Some("t"),
                ],
            );
            push_row(
                &mut events,
                &[
                    Some(&ids[1]),
                    Some("created"),
                    None,
                    Some("submitted"),
                    Some("Report received."),
                    Some(&created),
                ],
            );
            if let Some(closed) = &closed {
                push_row(
                    &mut events,
                    &[
                        Some(&ids[1]),
                        Some("status_changed"),
                        Some("submitted"),
                        Some(report.status),
                        Some(report.closure_note),
                        Some(closed),
                    ],
                );
            }
        }
        copy(
            &tx,
            "COPY incidents (id, jurisdiction_id, category_id, dedup_group, location, status, \
                 priority, department_id, service_area_id, report_count, created_at, updated_at, \
                 closed_at, address, summary, last_reported_at) FROM STDIN",
            incidents,
        )
        .await?;
        let stored = copy(
            &tx,
            "COPY reports (id, jurisdiction_id, category_id, incident_id, location, address, \
                 description, status, priority, department_id, service_area_id, source, \
                 created_at, updated_at, closed_at, map_folded) FROM STDIN",
            rows,
        )
        .await?;
        copy(
            &tx,
            "COPY report_events (report_id, kind, status_from, status_to, body, created_at) \
             FROM STDIN",
            events,
        )
        .await?;
        // Stored as already folded: their map counts are added here, in the same transaction.
        let fold = format!(
            "WITH moved AS ( \
                SELECT id, category_id, status, ST_X(location::geometry) AS lon, \
                       ST_Y(location::geometry) AS lat \
                FROM reports WHERE id = ANY($1) \
            ) {FOLD_INTO_CELLS}"
        );
        tx.query_one(&fold, &[&report_ids]).await?;
        tx.commit().await?;
        Ok(stored)
    }

    /// Refreshes the planner's statistics of the tables a bulk load grows.
    pub async fn analyze(&self) -> Result<(), BulkError> {
        self.client
            .batch_execute(
                "ANALYZE incidents; ANALYZE reports; ANALYZE report_events; ANALYZE map_cells",
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_fields_are_escaped() {
        let mut row = String::new();
        push_row(&mut row, &[Some("a\tb\\c\nd"), None, Some("")]);
        assert_eq!(row, "a\\tb\\\\c\\nd\t\\N\t\n");
    }
}
