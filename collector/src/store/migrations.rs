//! The collector's schema migrations, embedded in the binary: one list a
//! backend of the files under `collector/migrations/<backend>/`, each named
//! `<version>_<description>.sql`, read by sqlx's `Migrator` as
//! `sqlx::migrate!` would read the folder (the same versions, descriptions
//! and SHA-384 checksums, so databases made by earlier builds open as they
//! did), without building sqlx's macros for the compiler's host. A test
//! holds each list to its folder.

use std::borrow::Cow;

use sqlx::migrate::{Migration, MigrationType, Migrator};

/// A migration file: its name and its text.
pub(super) type File = (&'static str, &'static str);

/// Both backends' lists from one list of names: each migration is a file of
/// the same name in each folder.
macro_rules! migrations {
    ($($name:literal),* $(,)?) => {
        /// SQLite's migrations, oldest first.
        pub(super) const SQLITE: &[File] =
            &[$(($name, include_str!(concat!("../../migrations/sqlite/", $name)))),*];
        /// PostgreSQL's migrations, oldest first.
        pub(super) const POSTGRES: &[File] =
            &[$(($name, include_str!(concat!("../../migrations/postgres/", $name)))),*];
    };
}

migrations!(
    "20261127000000_init.sql",
    "20261128000000_dashboard.sql",
    "20261128000001_daily_covering.sql",
    "20261202000000_results_by_time_and_id.sql",
);

/// The migration of one file, as sqlx reads it from a folder: the version
/// before the first `_`, the rest of the name less its suffix (`.sql`,
/// `.up.sql`, `.down.sql`, which also give its type) with `_` as spaces, the
/// text as it is; a text opening with `-- no-transaction` runs outside a
/// transaction.
fn migration((name, sql): File) -> Migration {
    let kind = MigrationType::from_filename(name);
    let stem = name.strip_suffix(kind.suffix()).unwrap_or(name);
    let (version, description) = stem.split_once('_').unwrap_or((stem, ""));
    // The names are this crate's own: the tests below hold every one to a
    // positive version, in order.
    let version = version.parse().unwrap_or(0);
    Migration::new(
        version,
        Cow::Owned(description.replace('_', " ")),
        kind,
        sqlx::SqlStr::from_static(sql),
        sql.starts_with("-- no-transaction"),
    )
}

/// The migrator of one backend's files.
pub(super) fn migrator(files: &[File]) -> Migrator {
    Migrator::with_migrations(files.iter().copied().map(migration).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file of the folder is listed, with its text, and no other.
    fn the_folder(dir: &str, files: &[File]) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(dir);
        let mut on_disk: Vec<(String, String)> = std::fs::read_dir(&path)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let name = e.file_name().into_string().unwrap();
                (name, std::fs::read_to_string(e.path()).unwrap())
            })
            .collect();
        on_disk.sort();
        let listed: Vec<(String, String)> = files
            .iter()
            .map(|(n, t)| ((*n).to_owned(), (*t).to_owned()))
            .collect();
        assert_eq!(listed, on_disk, "{dir}: the list and the folder differ");
    }

    #[test]
    fn every_migration_file_is_embedded_and_none_is_left_out() {
        the_folder("sqlite", SQLITE);
        the_folder("postgres", POSTGRES);
    }

    #[test]
    fn each_backend_lists_the_same_names_with_versions_in_order() {
        // The same names by construction (one list); each folder is held to
        // it by the test above.
        for files in [SQLITE, POSTGRES] {
            let m = migrator(files);
            let versions: Vec<i64> = m.iter().map(|m| m.version).collect();
            assert!(versions.iter().all(|v| *v > 0), "{versions:?}");
            assert!(versions.windows(2).all(|w| w[0] < w[1]), "{versions:?}");
            // Only forward migrations: a `.down.sql` would run at start-up.
            assert!(m.iter().all(|m| m.migration_type == MigrationType::Simple));
            assert!(files.iter().all(|(name, _)| name.contains('_')));
        }
    }

    #[test]
    fn a_migration_reads_as_sqlx_reads_the_folder() {
        let m = migrator(SQLITE);
        let first = m.iter().next().unwrap();
        assert_eq!(first.version, 20261127000000);
        assert_eq!(first.description, "init");
        assert_eq!(m.iter().nth(2).unwrap().description, "daily covering");
        // The checksum sqlx stores and compares: SHA-384 of the text.
        let sha384 = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA384, SQLITE[0].1.as_bytes());
        assert_eq!(first.checksum.as_ref(), sha384.as_ref());
    }
}
