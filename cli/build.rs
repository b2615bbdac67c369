//! Embeds what `v6audit --version` prints: the package version and the git
//! commit it was built from, and the commit's date (`self-check` knows from it
//! that a clock set earlier is wrong).
//!
//! The commit comes from `V6AUDIT_GIT_COMMIT` when set (a container build
//! without `.git`), else from `git`; a build from a source tarball has none
//! and says only the version. The date comes from `SOURCE_DATE_EPOCH` (the
//! reproducible-builds convention), else the commit's, else 0.

use std::path::{Path, PathBuf};
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (!text.is_empty()).then_some(text)
}

fn main() {
    println!("cargo::rerun-if-env-changed=V6AUDIT_GIT_COMMIT");
    println!("cargo::rerun-if-env-changed=SOURCE_DATE_EPOCH");
    // Rebuild when HEAD moves: HEAD itself, the branch it names, packed refs.
    if let Some(git_dir) = git(&["rev-parse", "--absolute-git-dir"]) {
        let git_dir = PathBuf::from(git_dir);
        let mut watch = vec![git_dir.join("HEAD"), git_dir.join("packed-refs")];
        if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
            watch.push(git_dir.join(Path::new(&branch)));
        }
        // Relative to this package where possible: cargo resolves such a
        // path against the checkout it builds, so a target directory shared
        // by two clones (CI's, kept under /var/tmp) still sees each one's HEAD.
        let manifest = std::env::var("CARGO_MANIFEST_DIR").map(PathBuf::from);
        let root = manifest.as_ref().ok().and_then(|m| m.parent());
        // A path that does not exist would rerun this script on every build.
        for path in watch.iter().filter(|p| p.exists()) {
            match root.and_then(|r| path.strip_prefix(r).ok()) {
                Some(rel) => println!("cargo::rerun-if-changed=../{}", rel.display()),
                None => println!("cargo::rerun-if-changed={}", path.display()),
            }
        }
    }

    let commit = std::env::var("V6AUDIT_GIT_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]));
    let version = env!("CARGO_PKG_VERSION");
    let long = match &commit {
        Some(c) => format!("{version} (commit {c})"),
        None => version.to_owned(),
    };
    println!("cargo::rustc-env=V6AUDIT_VERSION={long}");

    let date = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .or_else(|| git(&["log", "-1", "--format=%ct"]))
        .and_then(|d| d.trim().parse::<i64>().ok())
        .unwrap_or(0);
    println!("cargo::rustc-env=V6AUDIT_SOURCE_DATE={date}");
}
