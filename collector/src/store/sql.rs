//! The SQL backends. Both speak the same SQL (with `$n` parameters, which
//! SQLite accepts too); a macro writes the one implementation twice, once per
//! sqlx driver, and each backend keeps its own migrations (`migrations.rs`).
//! Rows are read through the `FromRow` structs of `rows.rs`, generic over the
//! driver, which refuse a stage column that is not a stage. SQLite runs in WAL mode with
//! `synchronous = FULL`, so a commit is on disk when it returns.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use super::migrations;
use super::rows::{
    AgentRow, CountsRow, DailyRow, EventRow, HistoryRow, IdRow, LatestRow, ResultRow, StageColumn,
    VerdictRow,
};
use super::{
    Agent, Counts, DailyStage, DeriveEvents, Event, EventFilter, HistoryPoint, Ingested, Latest,
    NewReport, NewResult, Storage, StoreError, StoredResult, StoredVerdict, day_of,
};
use sqlx::FromRow as _;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

/// SQLite, for one collector with its state in a file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

/// PostgreSQL, for large fleets and shared databases.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl SqliteStore {
    /// Opens the file of a `sqlite:` URL, created if missing: WAL mode,
    /// `synchronous = FULL`, foreign keys on, at most 4 connections.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        Ok(Self { pool })
    }
}

impl PgStore {
    /// Connects to a `postgres://` URL, with at most 8 connections.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        Ok(Self { pool })
    }
}

macro_rules! sql_store {
    ($store:ty, $migrations:expr) => {
        impl Storage for $store {
            async fn migrate(&self) -> Result<(), StoreError> {
                migrations::migrator($migrations).run(&self.pool).await?;
                Ok(())
            }

            async fn ping(&self) -> Result<(), StoreError> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn create_agent(
                &self,
                name: &str,
                vantage: Option<&str>,
                token_hash: &[u8],
                now_ms: i64,
            ) -> Result<(), StoreError> {
                let done = sqlx::query(
                    "INSERT INTO agents (name, vantage, token_hash, created_ms) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (name) DO NOTHING",
                )
                .bind(name)
                .bind(vantage)
                .bind(token_hash)
                .bind(now_ms)
                .execute(&self.pool)
                .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::AgentExists(name.to_owned()));
                }
                Ok(())
            }

            async fn agent_for_token(&self, token_hash: &[u8]) -> Result<Option<Agent>, StoreError> {
                let row = sqlx::query_as::<_, AgentRow>(
                    "SELECT name, vantage, created_ms, revoked_ms, last_report_ms FROM agents WHERE token_hash = $1",
                )
                .bind(token_hash)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(Agent::from))
            }

            async fn agents(&self) -> Result<Vec<Agent>, StoreError> {
                let rows = sqlx::query_as::<_, AgentRow>(
                    "SELECT name, vantage, created_ms, revoked_ms, last_report_ms FROM agents ORDER BY name",
                )
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map(Agent::from).collect())
            }

            async fn revoke_agent(&self, name: &str, now_ms: i64) -> Result<bool, StoreError> {
                let done = sqlx::query("UPDATE agents SET revoked_ms = COALESCE(revoked_ms, $2) WHERE name = $1")
                    .bind(name)
                    .bind(now_ms)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            // Long because one transaction stores the results, their events, the report and the agent.
            async fn ingest(
                &self,
                report: &NewReport,
                results: &[NewResult],
                derive: &DeriveEvents,
                day_offset_s: i64,
            ) -> Result<Ingested, StoreError> {
                let mut tx = self.pool.begin().await?;
                let mut out = Ingested::default();
                // Each result once; `fresh` holds the indexes of the new ones.
                let mut fresh: Vec<usize> = Vec::new();
                for (i, r) in results.iter().enumerate() {
                    let v = &r.verdict;
                    let inserted = sqlx::query(
                        "INSERT INTO results (id, report_id, agent, portal_id, observed_ms, portal, observation, \
                         stage, stage_certain, score, priority, findings, pack) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT (id) DO NOTHING",
                    )
                    .bind(&r.id)
                    .bind(&report.id)
                    .bind(&report.agent)
                    .bind(&r.portal_id)
                    .bind(r.observed_ms)
                    .bind(&r.portal)
                    .bind(&r.observation)
                    .bind(StageColumn(v.stage))
                    .bind(v.stage_certain)
                    .bind(v.score)
                    .bind(v.priority)
                    .bind(&v.findings)
                    .bind(&v.pack)
                    .execute(&mut *tx)
                    .await?;
                    if inserted.rows_affected() == 0 {
                        out.duplicates += 1;
                    } else {
                        out.stored += 1;
                        fresh.push(i);
                    }
                }
                let previous = Self::previous_verdicts(&mut tx, &report.agent, results, &fresh).await?;
                for &i in &fresh {
                    let r = &results[i];
                    let before = previous[i].as_ref().map(|p| match p {
                        Previous::Stored(v) => v,
                        Previous::Fresh(j) => &results[*j].verdict,
                    });
                    for e in derive(r, before) {
                        let id = sqlx::query_scalar::<_, i64>(
                            "INSERT INTO events (at_ms, portal_id, agent, kind, from_stage, to_stage, rule, message, result_id) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
                        )
                        .bind(r.observed_ms)
                        .bind(&r.portal_id)
                        .bind(&report.agent)
                        .bind(e.kind.as_str())
                        .bind(e.from_stage.map(StageColumn))
                        .bind(StageColumn(e.to_stage))
                        .bind(&e.rule)
                        .bind(&e.message)
                        .bind(&r.id)
                        .fetch_one(&mut *tx)
                        .await?;
                        out.events.push(Event {
                            id,
                            at_ms: r.observed_ms,
                            portal_id: r.portal_id.clone(),
                            agent: report.agent.clone(),
                            kind: e.kind.as_str().to_owned(),
                            from_stage: e.from_stage,
                            to_stage: e.to_stage,
                            rule: e.rule,
                            message: e.message,
                            result_id: r.id.clone(),
                        });
                    }
                    Self::note_latest(&mut tx, &report.agent, r, day_offset_s).await?;
                }
                sqlx::query(
                    "INSERT INTO reports (id, agent, received_ms, generated_ms, results, stored) \
                     VALUES ($1, $2, $3, $4, $5, $6) \
                     ON CONFLICT (id) DO UPDATE SET stored = reports.stored + excluded.stored",
                )
                .bind(&report.id)
                .bind(&report.agent)
                .bind(report.received_ms)
                .bind(report.generated_ms)
                .bind(results.len() as i64)
                .bind(out.stored as i64)
                .execute(&mut *tx)
                .await?;
                sqlx::query("UPDATE agents SET last_report_ms = $2 WHERE name = $1")
                    .bind(&report.agent)
                    .bind(report.received_ms)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(out)
            }

            async fn latest(&self) -> Result<Vec<Latest>, StoreError> {
                let rows = sqlx::query_as::<_, LatestRow>(
                    "SELECT portal_id, agent, result_id, observed_ms, stage, stage_certain, score, priority \
                     FROM latest ORDER BY portal_id, agent",
                )
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map(Latest::from).collect())
            }

            async fn result(&self, id: &str) -> Result<Option<StoredResult>, StoreError> {
                let row = sqlx::query_as::<_, ResultRow>("SELECT * FROM results WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.map(StoredResult::from))
            }

            async fn history(&self, portal_id: &str, from_ms: i64, to_ms: i64) -> Result<Vec<HistoryPoint>, StoreError> {
                let rows = sqlx::query_as::<_, HistoryRow>(
                    "SELECT id, agent, observed_ms, stage, stage_certain, score FROM results \
                     WHERE portal_id = $1 AND observed_ms >= $2 AND observed_ms <= $3 ORDER BY observed_ms, id",
                )
                .bind(portal_id)
                .bind(from_ms)
                .bind(to_ms)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map(HistoryPoint::from).collect())
            }

            async fn daily_changes_since(&self, from_day: i64) -> Result<Vec<DailyStage>, StoreError> {
                use futures_util::TryStreamExt;
                let mut rows = sqlx::query(
                    "SELECT day, portal_id, agent, stage FROM daily WHERE day >= $1 \
                     ORDER BY portal_id, agent, day",
                )
                .bind(from_day)
                .fetch(&self.pool);
                // Streamed and compressed as it comes: a year of a stable
                // fleet is millions of rows but a few thousand changes.
                let mut out: Vec<DailyStage> = Vec::new();
                while let Some(row) = rows.try_next().await? {
                    let d = DailyRow::from_row(&row)?;
                    let same_pair = out
                        .last()
                        .is_some_and(|l| l.portal_id == d.portal_id && l.agent == d.agent);
                    if same_pair && out.last().is_some_and(|l| l.stage == d.stage.0) {
                        continue;
                    }
                    out.push(DailyStage::from(d));
                }
                Ok(out)
            }

            async fn events(&self, after_id: i64, limit: i64) -> Result<Vec<Event>, StoreError> {
                let rows = sqlx::query_as::<_, EventRow>("SELECT * FROM events WHERE id > $1 ORDER BY id LIMIT $2")
                    .bind(after_id)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows.into_iter().map(Event::from).collect())
            }

            async fn recent_events(&self, limit: i64) -> Result<Vec<Event>, StoreError> {
                let rows = sqlx::query_as::<_, EventRow>("SELECT * FROM events ORDER BY id DESC LIMIT $1")
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows.into_iter().map(Event::from).collect())
            }

            async fn events_before(
                &self,
                before_id: i64,
                portal: Option<&str>,
                filter: EventFilter,
                limit: i64,
            ) -> Result<Vec<Event>, StoreError> {
                let sql = format!(
                    "SELECT * FROM events WHERE id < $1 AND ($2 IS NULL OR portal_id = $2) AND {} \
                     ORDER BY id DESC LIMIT $3",
                    filter.sql()
                );
                let rows = sqlx::query_as::<_, EventRow>(sqlx::AssertSqlSafe(sql))
                    .bind(before_id)
                    .bind(portal)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows.into_iter().map(Event::from).collect())
            }

            async fn event_counts_since(&self, since_ms: i64) -> Result<Vec<(String, i64)>, StoreError> {
                Ok(sqlx::query_as::<_, (String, i64)>(
                    "SELECT kind, COUNT(*) AS n FROM events WHERE at_ms >= $1 GROUP BY kind ORDER BY kind",
                )
                .bind(since_ms)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn counts(&self) -> Result<Counts, StoreError> {
                let row = sqlx::query_as::<_, CountsRow>(
                    "SELECT (SELECT COUNT(*) FROM reports) AS reports, (SELECT COUNT(*) FROM results) AS results, \
                     (SELECT COUNT(*) FROM events) AS events",
                )
                .fetch_one(&self.pool)
                .await?;
                Ok(Counts::from(row))
            }

            async fn results_after(&self, after: &str, limit: i64) -> Result<Vec<StoredResult>, StoreError> {
                let rows = sqlx::query_as::<_, ResultRow>("SELECT * FROM results WHERE id > $1 ORDER BY id LIMIT $2")
                    .bind(after)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows.into_iter().map(StoredResult::from).collect())
            }

            async fn rescore(&self, verdicts: &[(String, StoredVerdict)], day_offset_s: i64) -> Result<(), StoreError> {
                let mut tx = self.pool.begin().await?;
                for (id, v) in verdicts {
                    sqlx::query(
                        "UPDATE results SET stage = $2, stage_certain = $3, score = $4, priority = $5, \
                         findings = $6, pack = $7 WHERE id = $1",
                    )
                    .bind(id)
                    .bind(StageColumn(v.stage))
                    .bind(v.stage_certain)
                    .bind(v.score)
                    .bind(v.priority)
                    .bind(&v.findings)
                    .bind(&v.pack)
                    .execute(&mut *tx)
                    .await?;
                    let r = StoredResult::from(
                        sqlx::query_as::<_, ResultRow>("SELECT * FROM results WHERE id = $1")
                            .bind(id)
                            .fetch_one(&mut *tx)
                            .await?,
                    );
                    let new = NewResult {
                        id: r.id,
                        portal_id: r.portal_id,
                        observed_ms: r.observed_ms,
                        portal: r.portal,
                        observation: r.observation,
                        verdict: r.verdict,
                    };
                    Self::note_latest(&mut tx, &r.agent, &new, day_offset_s).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn put_inventory(&self, name: &str, text: &str, now_ms: i64) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO inventories (name, text, updated_ms) VALUES ($1, $2, $3) \
                     ON CONFLICT (name) DO UPDATE SET text = excluded.text, updated_ms = excluded.updated_ms",
                )
                .bind(name)
                .bind(text)
                .bind(now_ms)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn inventories(&self) -> Result<Vec<(String, String)>, StoreError> {
                Ok(sqlx::query_as::<_, (String, String)>("SELECT name, text FROM inventories ORDER BY name")
                    .fetch_all(&self.pool)
                    .await?)
            }
        }

        impl $store {
            /// The previous verdict of each new result (`fresh` indexes
            /// `results`; the answer is indexed like `results`): for each
            /// portal, the newest stored result before the earliest new one,
            /// then every result from the earliest new one to the latest in
            /// (time, id) order, each new one following the one before it.
            /// Two reads per portal, none per result: a report of thousands
            /// of results at one time stays linear.
            async fn previous_verdicts(
                tx: &mut sqlx::Transaction<'static, <$store as Backend>::Db>,
                agent: &str,
                results: &[NewResult],
                fresh: &[usize],
            ) -> Result<Vec<Option<Previous>>, sqlx::Error> {
                use futures_util::TryStreamExt;
                let mut previous: Vec<Option<Previous>> = Vec::new();
                previous.resize_with(results.len(), || None);
                // Per portal: the times of its new results, earliest and latest.
                let mut spans: HashMap<&str, (i64, i64)> = HashMap::new();
                let mut fresh_ids: HashMap<&str, usize> = HashMap::new();
                for &i in fresh {
                    let r = &results[i];
                    fresh_ids.insert(r.id.as_str(), i);
                    spans
                        .entry(r.portal_id.as_str())
                        .and_modify(|(from, to)| {
                            *from = (*from).min(r.observed_ms);
                            *to = (*to).max(r.observed_ms);
                        })
                        .or_insert((r.observed_ms, r.observed_ms));
                }
                for (portal, (from, to)) in spans {
                    let before = sqlx::query_as::<_, VerdictRow>(
                        "SELECT stage, stage_certain, score, priority, findings, pack FROM results \
                         WHERE portal_id = $1 AND agent = $2 AND observed_ms < $3 \
                         ORDER BY observed_ms DESC, id DESC LIMIT 1",
                    )
                    .bind(portal)
                    .bind(agent)
                    .bind(from)
                    .fetch_optional(&mut **tx)
                    .await?;
                    let mut last: Option<Previous> =
                        before.map(|v| Previous::Stored(StoredVerdict::from(v)));
                    let mut rows = sqlx::query(
                        "SELECT id, stage, stage_certain, score, priority, findings, pack FROM results \
                         WHERE portal_id = $1 AND agent = $2 AND observed_ms >= $3 AND observed_ms <= $4 \
                         ORDER BY observed_ms, id",
                    )
                    .bind(portal)
                    .bind(agent)
                    .bind(from)
                    .bind(to)
                    .fetch(&mut **tx);
                    while let Some(row) = rows.try_next().await? {
                        let id = IdRow::from_row(&row)?.id;
                        match fresh_ids.get(id) {
                            Some(&i) => {
                                previous[i] = last.take();
                                last = Some(Previous::Fresh(i));
                            }
                            None => last = Some(Previous::Stored(VerdictRow::from_row(&row)?.into())),
                        }
                    }
                }
                Ok(previous)
            }

            /// Keeps `latest` and `daily` current with a stored result: each
            /// holds the newest result by (observed time, id).
            async fn note_latest(
                tx: &mut sqlx::Transaction<'static, <$store as Backend>::Db>,
                agent: &str,
                r: &NewResult,
                day_offset_s: i64,
            ) -> Result<(), sqlx::Error> {
                let v = &r.verdict;
                sqlx::query(
                    "INSERT INTO latest (portal_id, agent, result_id, observed_ms, stage, stage_certain, score, priority) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                     ON CONFLICT (portal_id, agent) DO UPDATE SET result_id = excluded.result_id, \
                     observed_ms = excluded.observed_ms, stage = excluded.stage, stage_certain = excluded.stage_certain, \
                     score = excluded.score, priority = excluded.priority \
                     WHERE excluded.observed_ms > latest.observed_ms \
                        OR (excluded.observed_ms = latest.observed_ms AND excluded.result_id >= latest.result_id)",
                )
                .bind(&r.portal_id)
                .bind(agent)
                .bind(&r.id)
                .bind(r.observed_ms)
                .bind(StageColumn(v.stage))
                .bind(v.stage_certain)
                .bind(v.score)
                .bind(v.priority)
                .execute(&mut **tx)
                .await?;
                sqlx::query(
                    "INSERT INTO daily (day, portal_id, agent, observed_ms, stage) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (day, portal_id, agent) DO UPDATE SET observed_ms = excluded.observed_ms, \
                     stage = excluded.stage WHERE excluded.observed_ms >= daily.observed_ms",
                )
                .bind(day_of(r.observed_ms, day_offset_s))
                .bind(&r.portal_id)
                .bind(agent)
                .bind(r.observed_ms)
                .bind(StageColumn(v.stage))
                .execute(&mut **tx)
                .await?;
                Ok(())
            }
        }
    };
}

/// Where a new result's previous verdict is.
#[derive(Debug)]
enum Previous {
    /// A result stored before this report.
    Stored(StoredVerdict),
    /// A result of this report (its index).
    Fresh(usize),
}

/// The sqlx database of a store.
pub(super) trait Backend {
    type Db: sqlx::Database;
}

impl Backend for SqliteStore {
    type Db = sqlx::Sqlite;
}

impl Backend for PgStore {
    type Db = sqlx::Postgres;
}

sql_store!(SqliteStore, migrations::SQLITE);
sql_store!(PgStore, migrations::POSTGRES);
