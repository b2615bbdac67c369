//! The `v6audit` binary as users and scripts meet it: exit codes, error
//! messages, output formats and the JSON contract, against the lab served by
//! `v6audit lab serve` in a child process (loopback only). One module per
//! command; the helpers here.

// A test that cannot unwrap should fail loudly, not handle the error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

mod audit;
mod check;
mod collector;
mod demo;
mod input;
mod packaging;
mod plan;
mod shard;
mod tui;
mod validate;

pub(crate) fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_v6audit"));
    c.env("NO_COLOR", "1").env_remove("V6AUDIT_LOG");
    c
}

pub(crate) fn run(args: &[&str]) -> Output {
    bin().args(args).output().unwrap()
}

pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub(crate) fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `v6audit lab serve` in the background, stopped when dropped.
pub(crate) struct LabProcess {
    child: Child,
    pub(crate) dir: tempfile::TempDir,
    pub(crate) args: Vec<String>,
}

impl LabProcess {
    pub(crate) fn start(portals: u32, mix: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let child = bin()
            .args([
                "lab",
                "serve",
                "--portals",
                &portals.to_string(),
                "--mix",
                mix,
                "--dir",
            ])
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let ready = dir.path().join("lab-audit.txt");
        let start = Instant::now();
        while !ready.exists() {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the lab did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        // The file is written last; read the audit command it holds.
        let text = std::fs::read_to_string(&ready).unwrap();
        let args: Vec<String> = text.split_whitespace().skip(1).map(str::to_owned).collect();
        assert_eq!(args[0], "audit");
        Self { child, dir, args }
    }

    /// `v6audit audit <lab inventory and settings> <extra>`.
    pub(crate) fn audit(&self, extra: &[&str]) -> Output {
        self.command("audit", extra)
    }

    /// `v6audit <cmd> <lab inventory and settings> <extra>`.
    pub(crate) fn command(&self, cmd: &str, extra: &[&str]) -> Output {
        bin()
            .arg(cmd)
            .args(&self.args[1..])
            .args(extra)
            .output()
            .unwrap()
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

impl Drop for LabProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::File::create(&p)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    p
}

/// The scenario a lab portal id stands for: the id without its number.
pub(crate) fn scenario_of(id: &str) -> &str {
    id.rsplit_once('-').map_or(id, |(s, _)| s)
}

/// Masks what changes from run to run (ports, hashes, dates, times, ids), so
/// outputs can be compared with a golden snapshot.
pub(crate) fn insta_settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path("snapshots");
    s.set_prepend_module_to_snapshot(false);
    for (pattern, replacement) in [
        (
            r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b",
            "<uuid>",
        ),
        (
            r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})",
            "<timestamp>",
        ),
        (r"\d{4}-\d{2}-\d{2}", "<date>"),
        (r"sha256:[0-9a-f]{16}", "sha256:<hash>"),
        (r"\b[0-9a-f]{64}\b", "<sha256>"),
        (r#"time="[0-9.]+""#, r#"time="<t>""#),
        // DNSSEC key tags: the lab makes new keys at every start.
        (r"\(DS \d+(, \d+)*\)", "(DS <tags>)"),
        (r"key tags \d+(, \d+)*", "key tags <tags>"),
        (r"\b[1-6]\d{4}\b", "<port>"),
        (r"\b\d+ more days", "<n> more days"),
        (r"\bin \d+(\.\d+)? ms\b", "in <ms> ms"),
    ] {
        s.add_filter(pattern, replacement);
    }
    s
}

/// Validates a JUnit or SARIF file with the independent consumers in
/// tests/validators (junitparser; the SARIF 2.1.0 schema from npm with
/// jsonschema). `scripts/test.sh` installs them and sets V6AUDIT_CI_TOOLS;
/// without it the check is skipped, unless V6AUDIT_REQUIRE_CI_TOOLS is set.
pub(crate) fn validate(kind: &str, file: &Path) -> Option<serde_json::Value> {
    let Some(tools) = std::env::var_os("V6AUDIT_CI_TOOLS").map(PathBuf::from) else {
        assert!(
            std::env::var_os("V6AUDIT_REQUIRE_CI_TOOLS").is_none(),
            "V6AUDIT_CI_TOOLS is not set: run ./scripts/test.sh, which installs the validators"
        );
        eprintln!(
            "skipping the independent {kind} validation: V6AUDIT_CI_TOOLS is not set (./scripts/test.sh sets it)"
        );
        return None;
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/validators/ci_formats.py");
    let mut cmd = Command::new("python3");
    cmd.env("PYTHONPATH", tools.join("py"))
        .arg(&script)
        .arg(kind)
        .arg(file);
    if kind == "sarif" {
        cmd.arg(tools.join("sarif-2.1.0-rtm.5.json"));
    }
    let o = cmd.output().unwrap();
    assert!(
        o.status.success(),
        "{kind} validation of {} failed:\n{}{}",
        file.display(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    Some(serde_json::from_slice(&o.stdout).unwrap())
}
