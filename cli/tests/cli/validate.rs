//! `v6audit validate`: every problem of every file in one run, exit 0 / 2,
//! nothing probed.

use v6audit_model::Inventory;

use crate::*;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Regression (issue 17): a bad inventory showed one structural problem per
/// run, so five problems took three runs to see. `validate` lists them all,
/// in the order of the file, and exits 2.
#[test]
fn validate_lists_every_problem_of_a_bad_inventory() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(
        dir.path(),
        "bad.yaml",
        "\
schema: v6audit/inventory/v1
defaults:
  categroy: citizen
portals:
  - id: dichvucong
    url: https://dichvucong.gov.vn/
    audiance: 1000000
  - id: chinhphu
    url: https://chinhphu.vn/
    category: citizens
  - id: dichvucong
    url: https://dichvucong.bocongan.gov.vn/
  - id: bocongan
    url: https://bocongan%2egov.vn/
",
    );
    let good = write(
        dir.path(),
        "good.yaml",
        "schema: v6audit/inventory/v1\nportals:\n  - id: a\n    url: https://a.gov.vn/\n",
    );
    let o = run(&["validate", bad.to_str().unwrap(), good.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let b = bad.display();
    assert_eq!(
        stderr(&o),
        format!(
            "\
{b}:3:3: defaults.categroy: unknown field `categroy`, expected one of category, ports, tags, target_stage, also_www
{b}:7:5: portals[0].audiance: unknown field `audiance`, expected one of id, url, name, agency, category, audience, ports, tags, target_stage, also_www
{b}:10:15: portals[1].category: unknown variant `citizens`, expected one of citizen, business, information, internal
{b}:11:9: portals[2].id: duplicate id `dichvucong` (first used at line 5)
{b}:14:10: portals[3].url: invalid URL `https://bocongan%2egov.vn/`: the host `bocongan%2egov.vn` has a percent-escape (`%2e`); write the host name itself
v6audit: 5 problems in 1 of 2 files
"
        )
    );
    assert!(o.stdout.is_empty(), "{}", stdout(&o));

    // A bad pack is listed too, beside the inventories.
    let pack = write(
        dir.path(),
        "pack.yaml",
        "schema: v6audit/rules/v1\nname: x\nextends: default\nrules:\n  web.parity:\n    similarity_threshold: 2\n",
    );
    let o = run(&[
        "validate",
        good.to_str().unwrap(),
        "--rules",
        pack.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains(&format!(
            "{}:6:27: rules.web.parity.similarity_threshold: must be between 0 and 1, not 2\n",
            pack.display()
        )),
        "{err}"
    );
    assert!(err.ends_with(" in 1 of 2 files\n"), "{err}");
}

#[test]
fn validate_exits_0_on_the_shipped_inventories() {
    let vn = repo().join("inventories/vn-public-services.yaml");
    let example = repo().join("inventories/examples/minimal.yaml");
    let pack = repo().join("rules/packs/default.yaml");
    let o = run(&[
        "validate",
        vn.to_str().unwrap(),
        example.to_str().unwrap(),
        "--rules",
        pack.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let portals = Inventory::load(&vn).unwrap().portals.len()
        + Inventory::load(&example).unwrap().portals.len();
    assert_eq!(
        stdout(&o),
        format!("{portals} portals in 2 files, pack default: valid\n")
    );
    assert!(o.stderr.is_empty(), "{}", stderr(&o));

    // Without --rules, the built-in pack.
    let o = run(&["validate", example.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).ends_with(" in 1 file, pack default: valid\n"),
        "{}",
        stdout(&o)
    );
}

/// Regression (a hostile tester): `validate` printed the file's own bytes
/// raw in its errors (an id of `b` ESC `[2J` cleared the screen), where
/// `audit` showed them escaped; and `audit` read a UTF-16 inventory that
/// `validate` refused. Both now read and say it the same way.
#[test]
fn validate_and_audit_refuse_the_same_files_in_the_same_words() {
    let dir = tempfile::tempdir().unwrap();
    let escape = write(
        dir.path(),
        "escape.yaml",
        "schema: v6audit/inventory/v1\nportals:\n  - id: \"b\\e[2J\"\n    url: https://b.gov.vn/\n",
    );
    let good = "schema: v6audit/inventory/v1\nportals:\n  - id: a\n    url: https://a.gov.vn/\n";
    let utf16 = dir.path().join("utf16.yaml");
    let bytes: Vec<u8> = [0xff, 0xfe]
        .into_iter()
        .chain(good.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    std::fs::write(&utf16, bytes).unwrap();
    for file in [&escape, &utf16] {
        let v = run(&["validate", file.to_str().unwrap()]);
        // Nothing is probed: the dead resolver is never asked.
        let a = run(&[
            "audit",
            file.to_str().unwrap(),
            "--resolver",
            "[::1]:9",
            "--quiet",
        ]);
        assert_eq!(
            (v.status.code(), a.status.code()),
            (Some(2), Some(2)),
            "{}",
            stderr(&a)
        );
        let (v, a) = (stderr(&v), stderr(&a));
        assert!(!v.contains('\u{1b}') && !a.contains('\u{1b}'), "{v}\n{a}");
        let first = v.lines().next().unwrap();
        assert!(a.contains(first), "validate: {v}\naudit: {a}");
    }
    assert!(stderr(&run(&["validate", escape.to_str().unwrap()])).contains("b\\x1b[2J"));
}

/// A `RUST_LOG` (or `V6AUDIT_LOG`) that is not a filter is said once on
/// stderr, and the command goes on with its default logging; one that is a
/// filter is taken without a word.
#[test]
fn a_log_filter_that_does_not_read_is_said_once_and_the_default_kept() {
    let example = repo().join("inventories/examples/minimal.yaml");
    // `validate` of a good file, V6AUDIT_LOG (None: unset) and RUST_LOG set.
    let validate = |ours: Option<&str>, rust_log: &str| {
        let mut cmd = bin();
        cmd.args(["validate", example.to_str().unwrap()])
            .env("RUST_LOG", rust_log);
        match ours {
            Some(v) => cmd.env("V6AUDIT_LOG", v),
            None => cmd.env_remove("V6AUDIT_LOG"),
        };
        let o = cmd.output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert!(stdout(&o).ends_with(", pack default: valid\n"));
        stderr(&o)
    };
    let err = validate(None, "v6audit=loud");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("v6audit: RUST_LOG: \"loud\" is not a level")
            && err.contains("expected `level` or `target=level`, comma-separated")
            && err.ends_with("logging at the default\n"),
        "{err}"
    );
    // An empty V6AUDIT_LOG is as if unset: RUST_LOG is read, and said.
    let err = validate(Some(""), "v6audit=loud");
    assert!(err.starts_with("v6audit: RUST_LOG: "), "{err}");
    // V6AUDIT_LOG is read first; a good filter is quiet.
    let err = validate(Some("v6audit=warn, rustls=off"), "v6audit=loud");
    assert!(err.is_empty(), "{err}");
}
