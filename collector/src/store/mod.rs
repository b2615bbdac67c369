//! Storage: a small trait with domain-shaped methods (no SQL in its
//! signatures), implemented for SQLite and PostgreSQL in `sql.rs`, and the
//! [`Store`] that holds the one chosen from the database URL at start-up.

mod migrations;
mod rows;
mod sql;

use std::future::Future;

use v6audit_model::Stage;

pub use sql::{PgStore, SqliteStore};

/// Why a storage call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database URL is not one v6audit can use.
    #[error("unsupported database URL `{0}` (expected sqlite:///path/file.db or postgres://…)")]
    Url(String),
    /// An agent of that name exists already.
    #[error("an agent named `{0}` exists already")]
    AgentExists(String),
    /// The database answered with an error.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// The embedded migrations could not run.
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Stored data could not be read back (a row written by another version?).
    #[error("stored data: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Whether the database is busy rather than broken: a lock it could not
    /// take in time (SQLite `SQLITE_BUSY` and `SQLITE_LOCKED`; PostgreSQL
    /// lock, serialization and deadlock failures, too many connections), or
    /// no free connection in the pool. Worth trying again shortly.
    pub fn is_busy(&self) -> bool {
        let Self::Database(e) = self else {
            return false;
        };
        match e {
            sqlx::Error::PoolTimedOut => true,
            sqlx::Error::Database(d) => {
                let code = d.code().unwrap_or_default();
                if d.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                    // SQLite gives its extended result code; the primary
                    // code is its low byte (5 busy, 6 locked).
                    code.parse::<i32>().is_ok_and(|n| matches!(n & 0xff, 5 | 6))
                } else {
                    // PostgreSQL gives the SQLSTATE.
                    matches!(&*code, "55P03" | "40001" | "40P01" | "53300" | "57P03")
                }
            }
            _ => false,
        }
    }
}

/// An agent allowed to push reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    /// Its name, unique among agents.
    pub name: String,
    /// The vantage point it measures from, when one was given.
    pub vantage: Option<String>,
    /// When it was created, in ms since the epoch.
    pub created_ms: i64,
    /// When its token was revoked, in ms since the epoch; None while it is valid.
    pub revoked_ms: Option<i64>,
    /// When its last report was received, in ms since the epoch; None before the first.
    pub last_report_ms: Option<i64>,
}

/// A verdict as stored: the collector's own judgement of one observation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredVerdict {
    /// The stage reached. (Stored as its number; a stored number that is no
    /// stage is refused as it is read, by the driver's decode error naming
    /// the column.)
    pub stage: Stage,
    /// False when the stage is a floor: a rule that could have lifted it ended in `error`.
    pub stage_certain: bool,
    /// 0 to 100, the weighted share of rules that pass.
    pub score: i64,
    /// How urgent a fix is; larger is more urgent.
    pub priority: i64,
    /// JSON array of findings.
    pub findings: String,
    /// `name/version` of the pack.
    pub pack: String,
}

/// One result to store.
#[derive(Debug, Clone)]
pub struct NewResult {
    /// The result's id, the agent's UUID v7; a result is stored once.
    pub id: String,
    /// The portal's id.
    pub portal_id: String,
    /// When the agent observed the portal, in ms since the epoch.
    pub observed_ms: i64,
    /// JSON of the portal as the agent described it.
    pub portal: String,
    /// JSON of the observation.
    pub observation: String,
    /// The collector's verdict of the observation.
    pub verdict: StoredVerdict,
}

/// A report being ingested.
#[derive(Debug, Clone)]
pub struct NewReport {
    /// The report's id, the agent's UUID v7.
    pub id: String,
    /// The name of the agent that pushed it.
    pub agent: String,
    /// When the collector received it, in ms since the epoch.
    pub received_ms: i64,
    /// When the agent generated it, in ms since the epoch.
    pub generated_ms: i64,
}

/// A change worth telling people about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Its id, given by the database, increasing in the order events are recorded.
    pub id: i64,
    /// When it happened: its result's observation time, in ms since the epoch.
    pub at_ms: i64,
    /// The portal's id.
    pub portal_id: String,
    /// The name of the agent whose result showed it.
    pub agent: String,
    /// What happened: an [`EventKind`] name, such as `lost_ipv6`.
    pub kind: String,
    /// The stage before, when it is known.
    pub from_stage: Option<Stage>,
    /// The stage after.
    pub to_stage: Stage,
    /// The rule it is about, for `cert_expired_v6` and `rule_regressed`.
    pub rule: Option<String>,
    /// What happened, in words for a person.
    pub message: String,
    /// The id of the result that showed it.
    pub result_id: String,
}

/// What an event says happened. The names are stored and sent to webhooks:
/// a contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// The stage fell from 2 or above to 1 or below.
    LostIpv6,
    /// The stage fell otherwise.
    Regression,
    /// `tls.v6-cert` fails now because the certificate over IPv6 expired.
    CertExpiredV6,
    /// A rule that passed fails now.
    RuleRegressed,
    /// The stage rose from 1 or below to 2.
    GainedIpv6,
    /// The stage rose otherwise.
    Improvement,
    /// The stage reached 3 (dual-stack) or above.
    ReachedDualStack,
}

impl EventKind {
    /// Every kind.
    pub const ALL: [Self; 7] = [
        Self::LostIpv6,
        Self::Regression,
        Self::CertExpiredV6,
        Self::RuleRegressed,
        Self::GainedIpv6,
        Self::Improvement,
        Self::ReachedDualStack,
    ];

    /// The kinds a webhook that names none is sent.
    pub const REGRESSIONS: [Self; 4] = [
        Self::LostIpv6,
        Self::Regression,
        Self::CertExpiredV6,
        Self::RuleRegressed,
    ];

    /// The name it is stored and sent under, such as `lost_ipv6`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LostIpv6 => "lost_ipv6",
            Self::Regression => "regression",
            Self::CertExpiredV6 => "cert_expired_v6",
            Self::RuleRegressed => "rule_regressed",
            Self::GainedIpv6 => "gained_ipv6",
            Self::Improvement => "improvement",
            Self::ReachedDualStack => "reached_dual_stack",
        }
    }

    /// The kind of a stored name; None when no kind has that name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether it is one of [`Self::REGRESSIONS`].
    pub fn is_regression(self) -> bool {
        Self::REGRESSIONS.contains(&self)
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An event to record (its id is given by the database).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// What happened.
    pub kind: EventKind,
    /// The stage before, when it is known.
    pub from_stage: Option<Stage>,
    /// The stage after.
    pub to_stage: Stage,
    /// The rule it is about, for `cert_expired_v6` and `rule_regressed`.
    pub rule: Option<String>,
    /// What happened, in words for a person.
    pub message: String,
}

/// Derives the events of a newly stored result from the previous verdict of
/// the same portal seen by the same agent (None for the first).
pub type DeriveEvents = dyn Fn(&NewResult, Option<&StoredVerdict>) -> Vec<NewEvent> + Send + Sync;

/// What an ingest did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ingested {
    /// How many results were new, and stored.
    pub stored: usize,
    /// How many results were stored already (by id), and skipped.
    pub duplicates: usize,
    /// The events recorded, with their ids.
    pub events: Vec<Event>,
}

/// The newest result of a portal from one agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Latest {
    /// The portal's id.
    pub portal_id: String,
    /// The agent's name.
    pub agent: String,
    /// The id of that result.
    pub result_id: String,
    /// When it was observed, in ms since the epoch.
    pub observed_ms: i64,
    /// The stage of that result.
    pub stage: Stage,
    /// False when the stage is a floor, not a measurement.
    pub stage_certain: bool,
    /// Its score, 0 to 100.
    pub score: i64,
    /// Its priority; larger is more urgent.
    pub priority: i64,
}

/// A stored result, whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResult {
    /// The result's id, the agent's UUID v7.
    pub id: String,
    /// The id of the report that brought it (the first, if it came again).
    pub report_id: String,
    /// The name of the agent that observed it.
    pub agent: String,
    /// The portal's id.
    pub portal_id: String,
    /// When it was observed, in ms since the epoch.
    pub observed_ms: i64,
    /// JSON of the portal as the agent described it.
    pub portal: String,
    /// JSON of the observation.
    pub observation: String,
    /// The collector's verdict of it, as last judged (re-scoring replaces it).
    pub verdict: StoredVerdict,
}

/// A point of a portal's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryPoint {
    /// The result's id.
    pub result_id: String,
    /// The name of the agent that observed it.
    pub agent: String,
    /// When it was observed, in ms since the epoch.
    pub observed_ms: i64,
    /// The stage of that result.
    pub stage: Stage,
    /// False when the stage is a floor, not a measurement.
    pub stage_certain: bool,
    /// Its score, 0 to 100.
    pub score: i64,
}

/// The last stage of a day for a portal and agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyStage {
    /// The day, in days since the epoch in the collector's time zone.
    pub day: i64,
    /// The portal's id.
    pub portal_id: String,
    /// The agent's name.
    pub agent: String,
    /// The stage of the day's last result.
    pub stage: Stage,
}

/// Which events a page of the feed shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EventFilter {
    /// Every event.
    #[default]
    All,
    /// lost_ipv6, regression, cert_expired_v6, rule_regressed.
    Regressions,
    /// gained_ipv6, improvement, reached_dual_stack.
    Improvements,
}

impl EventFilter {
    /// The SQL condition (constant text, no input in it).
    fn sql(self) -> &'static str {
        match self {
            Self::All => "TRUE",
            Self::Regressions => {
                "kind IN ('lost_ipv6', 'regression', 'cert_expired_v6', 'rule_regressed')"
            }
            Self::Improvements => "kind IN ('gained_ipv6', 'improvement', 'reached_dual_stack')",
        }
    }

    /// Whether a stored event kind is a regression.
    pub fn is_regression(kind: &str) -> bool {
        EventKind::parse(kind).is_some_and(EventKind::is_regression)
    }
}

/// Totals for /metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// How many reports are stored (each id once).
    pub reports: i64,
    /// How many results are stored.
    pub results: i64,
    /// How many events are recorded.
    pub events: i64,
}

/// The collector's storage.
pub trait Storage: Send + Sync {
    /// Runs the embedded migrations.
    fn migrate(&self) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Whether the database answers.
    fn ping(&self) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Creates an agent with its token's hash, created at `now_ms` (ms since
    /// the epoch); [`StoreError::AgentExists`] when the name is taken.
    fn create_agent(
        &self,
        name: &str,
        vantage: Option<&str>,
        token_hash: &[u8],
        now_ms: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The agent a token belongs to, revoked or not.
    fn agent_for_token(
        &self,
        token_hash: &[u8],
    ) -> impl Future<Output = Result<Option<Agent>, StoreError>> + Send;
    /// Every agent, revoked or not, by name.
    fn agents(&self) -> impl Future<Output = Result<Vec<Agent>, StoreError>> + Send;
    /// Revokes an agent's token; false when there is no such agent.
    fn revoke_agent(
        &self,
        name: &str,
        now_ms: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Stores a report's results in one transaction, each id once, with the
    /// events `derive` finds; durable when it returns. `day_offset_s` places
    /// results in days of the collector's time zone. A new result's previous
    /// verdict is the one just before it, by (observed time, id), among the
    /// portal and agent's results, this report's included; it is found with
    /// one read per portal, so the work grows with the report's size.
    fn ingest(
        &self,
        report: &NewReport,
        results: &[NewResult],
        derive: &DeriveEvents,
        day_offset_s: i64,
    ) -> impl Future<Output = Result<Ingested, StoreError>> + Send;

    /// The newest result of every portal from every agent.
    fn latest(&self) -> impl Future<Output = Result<Vec<Latest>, StoreError>> + Send;
    /// A stored result by its id, if there is one.
    fn result(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<StoredResult>, StoreError>> + Send;
    /// A portal's results between two times, oldest first.
    fn history(
        &self,
        portal_id: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> impl Future<Output = Result<Vec<HistoryPoint>, StoreError>> + Send;
    /// From `from_day` on, ordered by portal, agent and day: each portal and
    /// agent's first day, and every day whose stage differs from the day
    /// before it (the days between carry it forward).
    fn daily_changes_since(
        &self,
        from_day: i64,
    ) -> impl Future<Output = Result<Vec<DailyStage>, StoreError>> + Send;
    /// Events after `after_id`, oldest first, at most `limit`.
    fn events(
        &self,
        after_id: i64,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<Event>, StoreError>> + Send;
    /// The newest events, newest first.
    fn recent_events(
        &self,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<Event>, StoreError>> + Send;
    /// Events older than `before_id` (all with `i64::MAX`), newest first, at
    /// most `limit`; of one portal when given.
    fn events_before(
        &self,
        before_id: i64,
        portal: Option<&str>,
        filter: EventFilter,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<Event>, StoreError>> + Send;
    /// How many events of each kind happened at or after `since_ms`.
    fn event_counts_since(
        &self,
        since_ms: i64,
    ) -> impl Future<Output = Result<Vec<(String, i64)>, StoreError>> + Send;
    /// How many reports, results and events are stored.
    fn counts(&self) -> impl Future<Output = Result<Counts, StoreError>> + Send;

    /// Results in id order after `after`, for re-scoring.
    fn results_after(
        &self,
        after: &str,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<StoredResult>, StoreError>> + Send;
    /// Replaces the verdicts of stored results, and the newest and daily stages that follow from them.
    fn rescore(
        &self,
        verdicts: &[(String, StoredVerdict)],
        day_offset_s: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Stores an uploaded inventory's text under `name`, replacing one of that
    /// name; `now_ms` is the upload time in ms since the epoch.
    fn put_inventory(
        &self,
        name: &str,
        text: &str,
        now_ms: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The uploaded inventories as (name, text), by name.
    fn inventories(&self)
    -> impl Future<Output = Result<Vec<(String, String)>, StoreError>> + Send;
}

/// The storage chosen from the database URL.
#[derive(Debug, Clone)]
pub enum Store {
    /// SQLite, for a `sqlite:` URL.
    Sqlite(SqliteStore),
    /// PostgreSQL, for a `postgres://` or `postgresql://` URL.
    Postgres(PgStore),
}

impl Store {
    /// Opens `sqlite:///path/file.db` (created if missing) or `postgres://…`.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite(SqliteStore::open(url).await?))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres(PgStore::open(url).await?))
        } else {
            Err(StoreError::Url(url.to_owned()))
        }
    }

    /// The backend's name: `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }
}

/// Delegates every method of [`Storage`] to the backend in use.
macro_rules! delegate {
    ($( fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $out:ty; )*) => {
        impl Storage for Store {
            $(
                async fn $name(&self $(, $arg: $ty)*) -> $out {
                    match self {
                        Store::Sqlite(s) => s.$name($($arg),*).await,
                        Store::Postgres(s) => s.$name($($arg),*).await,
                    }
                }
            )*
        }
    };
}

delegate! {
    fn migrate(&self) -> Result<(), StoreError>;
    fn ping(&self) -> Result<(), StoreError>;
    fn create_agent(&self, name: &str, vantage: Option<&str>, token_hash: &[u8], now_ms: i64) -> Result<(), StoreError>;
    fn agent_for_token(&self, token_hash: &[u8]) -> Result<Option<Agent>, StoreError>;
    fn agents(&self) -> Result<Vec<Agent>, StoreError>;
    fn revoke_agent(&self, name: &str, now_ms: i64) -> Result<bool, StoreError>;
    fn ingest(&self, report: &NewReport, results: &[NewResult], derive: &DeriveEvents, day_offset_s: i64) -> Result<Ingested, StoreError>;
    fn latest(&self) -> Result<Vec<Latest>, StoreError>;
    fn result(&self, id: &str) -> Result<Option<StoredResult>, StoreError>;
    fn history(&self, portal_id: &str, from_ms: i64, to_ms: i64) -> Result<Vec<HistoryPoint>, StoreError>;
    fn daily_changes_since(&self, from_day: i64) -> Result<Vec<DailyStage>, StoreError>;
    fn events(&self, after_id: i64, limit: i64) -> Result<Vec<Event>, StoreError>;
    fn recent_events(&self, limit: i64) -> Result<Vec<Event>, StoreError>;
    fn events_before(&self, before_id: i64, portal: Option<&str>, filter: EventFilter, limit: i64) -> Result<Vec<Event>, StoreError>;
    fn event_counts_since(&self, since_ms: i64) -> Result<Vec<(String, i64)>, StoreError>;
    fn counts(&self) -> Result<Counts, StoreError>;
    fn results_after(&self, after: &str, limit: i64) -> Result<Vec<StoredResult>, StoreError>;
    fn rescore(&self, verdicts: &[(String, StoredVerdict)], day_offset_s: i64) -> Result<(), StoreError>;
    fn put_inventory(&self, name: &str, text: &str, now_ms: i64) -> Result<(), StoreError>;
    fn inventories(&self) -> Result<Vec<(String, String)>, StoreError>;
}

/// The day (since the epoch) of a time, in a zone `offset_s` east of UTC.
pub fn day_of(ms: i64, offset_s: i64) -> i64 {
    (ms + offset_s * 1000).div_euclid(86_400_000)
}
