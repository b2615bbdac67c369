//! The house's rules, kept true by the suite (issue "The house,
//! redesigned"): in the library crates every file opens with a `//!` line
//! on what it owns, no file is over 600 lines, and no module imports a
//! sibling that imports it back, directly or round a circle.

// A test that cannot unwrap should fail loudly, not handle the error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The library crates: what the binary and the tests are built from.
const LIBRARIES: &[&str] = &["model", "rules", "agent", "collector", "report", "lab"];

/// The most lines a library file may have.
const MAX_LINES: usize = 600;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every `.rs` file under `dir`, sorted.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The module path of a file under `src/`: `a/b.rs` and `a/b/mod.rs` are
/// `["a", "b"]`, `lib.rs` is `[]`.
fn module_of(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .with_extension("")
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if parts
        .last()
        .is_some_and(|l| l == "mod" || l == "lib" || l == "main")
    {
        parts.pop();
    }
    parts
}

/// The code of a file without its inline test module and its comments.
fn code_of(text: &str) -> String {
    let text = text
        .split("#[cfg(test)]\nmod tests {")
        .next()
        .unwrap_or(text);
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The module paths a file's code names through `crate::` and `super::`.
fn named_paths(code: &str, me: &[String]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for (at, _) in code
        .match_indices("crate::")
        .chain(code.match_indices("super::"))
    {
        // A whole word: not `v6audit_crate::` or `my_super::`.
        if at > 0 {
            let before = code.as_bytes()[at - 1];
            if before.is_ascii_alphanumeric() || before == b'_' {
                continue;
            }
        }
        let path: Vec<&str> = code[at..]
            .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .next()
            .unwrap_or("")
            .split("::")
            .filter(|s| !s.is_empty())
            .collect();
        let mut target: Vec<String> = if path[0] == "crate" {
            Vec::new()
        } else {
            // `super` of `a/b.rs` and of `a/b/mod.rs` alike is `a`.
            me[..me.len().saturating_sub(1)].to_vec()
        };
        let mut rest = &path[1..];
        while rest.first() == Some(&"super") {
            target.pop();
            rest = &rest[1..];
        }
        target.extend(rest.iter().map(|s| (*s).to_owned()));
        out.push(target);
    }
    out
}

#[test]
fn every_library_file_says_what_it_owns_and_is_at_most_600_lines() {
    let mut wrong = Vec::new();
    for krate in LIBRARIES {
        for path in sources(&root().join(krate).join("src")) {
            let text = std::fs::read_to_string(&path).unwrap();
            let rel = path.strip_prefix(root()).unwrap().display().to_string();
            if !text.starts_with("//!") {
                wrong.push(format!("{rel}: does not open with a `//!` line"));
            }
            let lines = text.lines().count();
            if lines > MAX_LINES {
                wrong.push(format!("{rel}: {lines} lines, more than {MAX_LINES}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The modules of the crate whose sources are under `src` that import each
/// other round a circle, each circle as its modules, sorted.
fn circles(src: &Path) -> Vec<Vec<String>> {
    let files = sources(src);
    let modules: BTreeSet<Vec<String>> = files
        .iter()
        .map(|p| module_of(p.strip_prefix(src).unwrap()))
        .collect();
    // An edge between the two siblings under which a user and what it
    // names part ways: `a/x.rs` naming `crate::b::y` is `a -> b`.
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for path in &files {
        let me = module_of(path.strip_prefix(src).unwrap());
        if me.last().is_some_and(|m| m == "tests") {
            continue;
        }
        let code = code_of(&std::fs::read_to_string(path).unwrap());
        for target in named_paths(&code, &me) {
            let common = me.iter().zip(&target).take_while(|(a, b)| a == b).count();
            if common >= me.len() || common >= target.len() {
                continue; // a parent and its child
            }
            let from = me[..=common].to_vec();
            let to = target[..=common].to_vec();
            if modules.contains(&from) && modules.contains(&to) {
                edges
                    .entry(from.join("/"))
                    .or_default()
                    .insert(to.join("/"));
            }
        }
    }
    // A circle is a module that reaches itself.
    let reach = |start: &str| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<String> = edges.get(start).into_iter().flatten().cloned().collect();
        while let Some(m) = todo.pop() {
            if seen.insert(m.clone()) {
                todo.extend(edges.get(&m).into_iter().flatten().cloned());
            }
        }
        seen
    };
    let mut found: BTreeSet<Vec<String>> = BTreeSet::new();
    for m in edges.keys() {
        let from_m = reach(m);
        if from_m.contains(m) {
            let circle: Vec<String> = from_m
                .iter()
                .filter(|o| reach(o).contains(m))
                .cloned()
                .collect();
            found.insert(circle);
        }
    }
    found.into_iter().collect()
}

#[test]
fn no_module_imports_a_sibling_that_imports_it_back() {
    let mut wrong = Vec::new();
    for krate in LIBRARIES.iter().chain(&["cli"]) {
        for circle in circles(&root().join(krate).join("src")) {
            wrong.push(format!("{krate}: {}", circle.join(" -> ")));
        }
    }
    assert!(wrong.is_empty(), "import circles:\n{}", wrong.join("\n"));
}

/// The circle finder itself finds a circle: without this, a finder that
/// never finds one would pass the test above.
#[test]
fn the_circle_finder_sees_a_circle_in_a_crate_written_with_one() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    let write = |rel: &str, text: &str| {
        let path = src.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("lib.rs", "//! A crate.\nmod a;\nmod b;\nmod c;\n");
    // a -> b -> c -> a, through `crate::`, `super::` and a folder; the
    // parent a/mod.rs naming its child a/x.rs is no circle.
    write("a/mod.rs", "//! A.\nmod x;\nuse x::X;\n");
    write(
        "a/x.rs",
        "//! X.\nuse crate::b::B;\n// crate::c in a comment is not an import\n",
    );
    write("b.rs", "//! B.\nuse super::c::C;\n");
    write("c.rs", "//! C.\nfn f() { crate::a::x::X::new(); }\n");
    assert_eq!(
        circles(src),
        [vec!["a".to_owned(), "b".to_owned(), "c".to_owned()]]
    );
    write("c.rs", "//! C, importing nothing.\n");
    assert!(circles(src).is_empty());
}

/// The `opt-level` each `[profile.P.package.C]` table of a Cargo.toml sets,
/// as (P, C) → level, read by a TOML parser.
fn package_opt_levels(manifest: &str) -> BTreeMap<(String, String), String> {
    let doc: serde_json::Value = basic_toml::from_str(manifest).unwrap();
    let mut levels = BTreeMap::new();
    let profiles = doc.get("profile").and_then(|p| p.as_object());
    for (profile, table) in profiles.into_iter().flatten() {
        let packages = table.get("package").and_then(|p| p.as_object());
        for (name, settings) in packages.into_iter().flatten() {
            if let Some(level) = settings.get("opt-level") {
                let level = level
                    .as_str()
                    .map_or_else(|| level.to_string(), str::to_owned);
                levels.insert((profile.clone(), name.clone()), level);
            }
        }
    }
    levels
}

/// A profile inherits its parent's package overrides: a crate left
/// unoptimised in `release` (the newcomer's quick build) would be
/// unoptimised in `dist` (what ships) too, unless `dist` sets it back.
#[test]
fn the_shipped_profile_optimises_every_crate_the_quick_build_leaves_unoptimised() {
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let levels = package_opt_levels(&manifest);
    let lowered: Vec<&String> = levels
        .iter()
        .filter(|((p, _), level)| p == "release" && level.as_str() != "3")
        .map(|((_, c), _)| c)
        .collect();
    assert!(!lowered.is_empty(), "no release override found: {levels:?}");
    for crate_name in lowered {
        assert_eq!(
            levels
                .get(&("dist".to_owned(), crate_name.clone()))
                .map(String::as_str),
            Some("3"),
            "[profile.dist.package.{crate_name}] must set opt-level = 3"
        );
    }
    // The reader sees a table however it is written: a comment after the
    // header, a quoted name, an inline table, a string level.
    let sample = "[profile.release.package]\ny = { opt-level = \"s\" }\n\
                  [profile.release.package.\"x\"] # why\nopt-level = 0\n\
                  [profile.dist]\nopt-level = 3\n";
    assert_eq!(
        package_opt_levels(sample).into_iter().collect::<Vec<_>>(),
        [
            (("release".to_owned(), "x".to_owned()), "0".to_owned()),
            (("release".to_owned(), "y".to_owned()), "s".to_owned()),
        ]
    );
}
