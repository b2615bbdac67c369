//! The rows the SQL backends read, as sqlx maps them: one `FromRow` struct
//! per shape of query, its fields named after the columns, and its
//! conversion into the store's own type. The `row!` macro writes an impl
//! generic over the driver's row, so one struct serves SQLite and PostgreSQL
//! alike.
//!
//! A stage column (an integer in both schemas, `INTEGER` in SQLite and
//! `BIGINT` in PostgreSQL, both read as `i64`) is read as a [`Stage`]: a
//! number outside 0..=4 is refused as the row is decoded, with sqlx's
//! `ColumnDecode` error naming the column.

use sqlx::error::BoxDynError;
use v6audit_model::Stage;

use super::{Agent, Counts, DailyStage, Event, HistoryPoint, Latest, StoredResult, StoredVerdict};

/// A row struct and its `FromRow`, generic over the driver's row: each
/// field is read from the column of its name, as sqlx's derive would, without
/// building sqlx's macros (and a second sqlx with its drivers) for the
/// compiler's host. A last field written `..name: Type` is another row
/// struct read from the same row (sqlx's `#[sqlx(flatten)]`).
macro_rules! row {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $($field:ident: $ty:ty,)*
            ..$flat:ident: $flat_ty:ty $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug)]
        $vis struct $name {
            $($field: $ty,)*
            $flat: $flat_ty,
        }

        impl<'r, R: sqlx::Row> sqlx::FromRow<'r, R> for $name
        where
            &'static str: sqlx::ColumnIndex<R>,
            $($ty: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,)*
            $flat_ty: sqlx::FromRow<'r, R>,
        {
            fn from_row(row: &'r R) -> Result<Self, sqlx::Error> {
                Ok(Self {
                    $($field: row.try_get(stringify!($field))?,)*
                    $flat: <$flat_ty>::from_row(row)?,
                })
            }
        }
    };
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident $(<$lt:lifetime>)? {
            $($(#[$fmeta:meta])* $fvis:vis $field:ident: $ty:ty),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug)]
        $vis struct $name $(<$lt>)? {
            $($(#[$fmeta])* $fvis $field: $ty,)*
        }

        impl<'r, R: sqlx::Row> sqlx::FromRow<'r, R> for $name $(<$lt>)?
        where
            &'static str: sqlx::ColumnIndex<R>,
            $($ty: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,)*
        {
            fn from_row(row: &'r R) -> Result<Self, sqlx::Error> {
                Ok(Self {
                    $($field: row.try_get(stringify!($field))?,)*
                })
            }
        }
    };
}

/// A stage as a number, if it is one (0 to 4).
fn stage_of(n: i64) -> Option<Stage> {
    u8::try_from(n).ok().and_then(|n| Stage::try_from(n).ok())
}

/// A stage column: written as its number, read as the `i64` it is stored
/// as and refused unless it is 0 to 4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct StageColumn(pub(super) Stage);

impl<DB: sqlx::Database> sqlx::Type<DB> for StageColumn
where
    i64: sqlx::Type<DB>,
{
    fn type_info() -> DB::TypeInfo {
        <i64 as sqlx::Type<DB>>::type_info()
    }

    fn compatible(ty: &DB::TypeInfo) -> bool {
        <i64 as sqlx::Type<DB>>::compatible(ty)
    }
}

impl<'q, DB: sqlx::Database> sqlx::Encode<'q, DB> for StageColumn
where
    i64: sqlx::Encode<'q, DB>,
{
    fn encode_by_ref(
        &self,
        buf: &mut <DB as sqlx::Database>::ArgumentBuffer,
    ) -> Result<sqlx::encode::IsNull, BoxDynError> {
        <i64 as sqlx::Encode<'q, DB>>::encode(i64::from(self.0.number()), buf)
    }
}

impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for StageColumn
where
    i64: sqlx::Decode<'r, DB>,
{
    fn decode(value: <DB as sqlx::Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
        let n = <i64 as sqlx::Decode<'r, DB>>::decode(value)?;
        match stage_of(n) {
            Some(s) => Ok(Self(s)),
            None => Err(format!("stage must be 0 to 4, not {n}").into()),
        }
    }
}

row! {
    /// `name, vantage, created_ms, revoked_ms, last_report_ms` of `agents`.
    pub(super) struct AgentRow {
        name: String,
        vantage: Option<String>,
        created_ms: i64,
        revoked_ms: Option<i64>,
        last_report_ms: Option<i64>,
    }
}

impl From<AgentRow> for Agent {
    fn from(r: AgentRow) -> Self {
        Self {
            name: r.name,
            vantage: r.vantage,
            created_ms: r.created_ms,
            revoked_ms: r.revoked_ms,
            last_report_ms: r.last_report_ms,
        }
    }
}

row! {
    /// The verdict's columns of `results`: `stage, stage_certain, score,
    /// priority, findings, pack`.
    pub(super) struct VerdictRow {
        stage: StageColumn,
        stage_certain: bool,
        score: i64,
        priority: i64,
        findings: String,
        pack: String,
    }
}

impl From<VerdictRow> for StoredVerdict {
    fn from(r: VerdictRow) -> Self {
        Self {
            stage: r.stage.0,
            stage_certain: r.stage_certain,
            score: r.score,
            priority: r.priority,
            findings: r.findings,
            pack: r.pack,
        }
    }
}

row! {
    /// A whole row of `results` (`SELECT *`); the verdict's columns are of
    /// the same row.
    pub(super) struct ResultRow {
        id: String,
        report_id: String,
        agent: String,
        portal_id: String,
        observed_ms: i64,
        portal: String,
        observation: String,
        ..verdict: VerdictRow,
    }
}

impl From<ResultRow> for StoredResult {
    fn from(r: ResultRow) -> Self {
        Self {
            id: r.id,
            report_id: r.report_id,
            agent: r.agent,
            portal_id: r.portal_id,
            observed_ms: r.observed_ms,
            portal: r.portal,
            observation: r.observation,
            verdict: r.verdict.into(),
        }
    }
}

row! {
    /// The `id` of a row, borrowed from it (read before deciding whether the
    /// rest of the row is needed).
    pub(super) struct IdRow<'r> {
        /// The `id` column.
        pub(super) id: &'r str,
    }
}

row! {
    /// A row of `latest`.
    pub(super) struct LatestRow {
        portal_id: String,
        agent: String,
        result_id: String,
        observed_ms: i64,
        stage: StageColumn,
        stage_certain: bool,
        score: i64,
        priority: i64,
    }
}

impl From<LatestRow> for Latest {
    fn from(r: LatestRow) -> Self {
        Self {
            portal_id: r.portal_id,
            agent: r.agent,
            result_id: r.result_id,
            observed_ms: r.observed_ms,
            stage: r.stage.0,
            stage_certain: r.stage_certain,
            score: r.score,
            priority: r.priority,
        }
    }
}

row! {
    /// `id, agent, observed_ms, stage, stage_certain, score` of `results`: a
    /// point of a portal's history.
    pub(super) struct HistoryRow {
        id: String,
        agent: String,
        observed_ms: i64,
        stage: StageColumn,
        stage_certain: bool,
        score: i64,
    }
}

impl From<HistoryRow> for HistoryPoint {
    fn from(r: HistoryRow) -> Self {
        Self {
            result_id: r.id,
            agent: r.agent,
            observed_ms: r.observed_ms,
            stage: r.stage.0,
            stage_certain: r.stage_certain,
            score: r.score,
        }
    }
}

row! {
    /// `day, portal_id, agent, stage` of `daily`, the strings borrowed from the
    /// row: most rows of a stream of days repeat the stage before them and are
    /// dropped unread.
    pub(super) struct DailyRow<'r> {
        /// The `day` column (days since the epoch).
        pub(super) day: i64,
        /// The `portal_id` column.
        pub(super) portal_id: &'r str,
        /// The `agent` column.
        pub(super) agent: &'r str,
        /// The `stage` column.
        pub(super) stage: StageColumn,
    }
}

impl From<DailyRow<'_>> for DailyStage {
    fn from(r: DailyRow<'_>) -> Self {
        Self {
            day: r.day,
            portal_id: r.portal_id.to_owned(),
            agent: r.agent.to_owned(),
            stage: r.stage.0,
        }
    }
}

row! {
    /// A whole row of `events` (`SELECT *`).
    pub(super) struct EventRow {
        id: i64,
        at_ms: i64,
        portal_id: String,
        agent: String,
        kind: String,
        from_stage: Option<StageColumn>,
        to_stage: StageColumn,
        rule: Option<String>,
        message: String,
        result_id: String,
    }
}

impl From<EventRow> for Event {
    fn from(r: EventRow) -> Self {
        Self {
            id: r.id,
            at_ms: r.at_ms,
            portal_id: r.portal_id,
            agent: r.agent,
            kind: r.kind,
            from_stage: r.from_stage.map(|s| s.0),
            to_stage: r.to_stage.0,
            rule: r.rule,
            message: r.message,
            result_id: r.result_id,
        }
    }
}

row! {
    /// The totals `reports, results, events` (each a `COUNT(*)`, a `BIGINT` in
    /// PostgreSQL and an integer in SQLite).
    pub(super) struct CountsRow {
        reports: i64,
        results: i64,
        events: i64,
    }
}

impl From<CountsRow> for Counts {
    fn from(r: CountsRow) -> Self {
        Self {
            reports: r.reports,
            results: r.results,
            events: r.events,
        }
    }
}
