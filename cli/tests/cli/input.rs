//! Hostile input files: every file a user names is a regular file, read with
//! a bound; anything else is refused at once with exit 2, naming the file.

use std::ffi::OsStr;

use crate::*;

/// Runs v6audit, failing the test if it has not finished within `limit`
/// (it is killed then): a command that blocks on its input must not hang
/// the test suite.
fn run_within(limit: Duration, args: &[&OsStr]) -> Output {
    let mut child = bin()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("v6audit {args:?} still ran after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

/// Regression (issue 13): `--ca-file /dev/zero` aborted with "memory
/// allocation of 4294967296 bytes failed", and an inventory, pack or trust
/// anchor of /dev/zero grew to gigabytes before failing. Each is refused
/// before a byte is read.
#[test]
fn ca_file_dev_zero_is_refused_not_allocated() {
    let limit = Duration::from_secs(30);
    let o = run_within(
        limit,
        &[
            os("audit"),
            os("--target"),
            os("a.gov.vn"),
            os("--resolver"),
            os("[::1]:9"),
            os("--ca-file"),
            os("/dev/zero"),
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(
            "v6audit: /dev/zero: the CA file must be a regular file, not a character device\n"
        ),
        "{}",
        stderr(&o)
    );
    assert!(o.stdout.is_empty(), "{}", stdout(&o));

    let o = run_within(limit, &[os("audit"), os("/dev/zero")]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(
        stderr(&o),
        "v6audit: invalid inventory:\n/dev/zero: the inventory must be a regular file, not a character device\n"
    );

    let o = run_within(
        limit,
        &[
            os("audit"),
            os("--target"),
            os("a.gov.vn"),
            os("--rules"),
            os("/dev/zero"),
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(
        stderr(&o),
        "v6audit: invalid rule pack:\n/dev/zero: the rule pack must be a regular file, not a character device\n"
    );

    let o = run_within(
        limit,
        &[
            os("audit"),
            os("--target"),
            os("a.gov.vn"),
            os("--trust-anchor"),
            os("/dev/zero"),
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(
        stderr(&o),
        "v6audit: invalid trust anchor: /dev/zero: the trust anchor must be a regular file, not a character device\n"
    );

    let o = run_within(
        limit,
        &[
            os("check"),
            os("--target"),
            os("a.gov.vn"),
            os("--baseline"),
            os("/dev/zero"),
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("/dev/zero: the report must be a regular file, not a character device"),
        "{}",
        stderr(&o)
    );
}

/// Regression (issue 13): a FIFO given as the inventory hung the command
/// (opening a FIFO waits for a writer). It is refused without being opened.
#[test]
fn inventory_fifo_is_refused_without_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("inventory.yaml");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success(), "mkfifo {}", fifo.display());
    let limit = Duration::from_secs(30);

    let o = run_within(limit, &[os("audit"), fifo.as_os_str()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(
        stderr(&o),
        format!(
            "v6audit: invalid inventory:\n{}: the inventory must be a regular file, not a FIFO (named pipe)\n",
            fifo.display()
        )
    );

    let o = run_within(limit, &[os("validate"), fifo.as_os_str()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(
        stderr(&o),
        format!(
            "{}: the inventory must be a regular file, not a FIFO (named pipe)\n\
             v6audit: 1 problem in 1 of 1 file\n",
            fifo.display()
        )
    );

    // A rule pack in a FIFO, likewise.
    let o = run_within(
        limit,
        &[
            os("audit"),
            os("--target"),
            os("a.gov.vn"),
            os("--rules"),
            fifo.as_os_str(),
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("the rule pack must be a regular file, not a FIFO (named pipe)"),
        "{}",
        stderr(&o)
    );
}
