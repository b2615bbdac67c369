//! `v6audit tui` in a real terminal: tmux runs it on a lab inventory,
//! `send-keys` moves, filters, opens a detail and quits, and `capture-pane`
//! shows what an admin would see. Skipped where tmux is missing, unless
//! V6AUDIT_REQUIRE_TMUX is set (scripts/test.sh installs and requires it).

use crate::*;

fn tmux(args: &[&str]) -> Output {
    Command::new("tmux").args(args).output().unwrap()
}

struct Session(String);

impl Drop for Session {
    fn drop(&mut self) {
        let _ = tmux(&["kill-session", "-t", &self.0]);
    }
}

impl Session {
    fn capture(&self) -> String {
        String::from_utf8_lossy(&tmux(&["capture-pane", "-p", "-t", &self.0]).stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", &self.0];
        args.extend_from_slice(keys);
        assert!(tmux(&args).status.success());
    }

    /// Waits until the pane shows `text`.
    /// Waits until `text` is on the screen and the screen has settled
    /// (two captures 100 ms apart agree): tmux can be captured halfway
    /// through a frame, with the first lines of a panel drawn and the rest
    /// not yet.
    fn wait_for(&self, text: &str) -> String {
        let start = Instant::now();
        let mut previous: Option<String> = None;
        loop {
            let screen = self.capture();
            if screen.contains(text) {
                if previous.as_deref() == Some(screen.as_str()) {
                    return screen;
                }
                previous = Some(screen.clone());
            } else {
                previous = None;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "`{text}` never appeared on a settled screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

#[test]
fn an_admin_finds_the_broken_portals_and_why() {
    if Command::new("tmux").arg("-V").output().is_err() {
        assert!(
            std::env::var_os("V6AUDIT_REQUIRE_TMUX").is_none(),
            "tmux is not installed: run ./scripts/test.sh, which installs it"
        );
        eprintln!("skipping the terminal test: tmux is not installed");
        return;
    }
    let lab = LabProcess::start(18, "all");
    let name = format!("v6audit-tui-{}", std::process::id());
    let mut cmd = vec![env!("CARGO_BIN_EXE_v6audit").to_owned(), "tui".to_owned()];
    cmd.extend(lab.args[1..].iter().cloned());
    cmd.extend([
        "--timeout".to_owned(),
        "2".to_owned(),
        "--export-dir".to_owned(),
    ]);
    cmd.push(lab.dir.path().display().to_string());
    let shell = cmd
        .iter()
        .map(|a| format!("'{a}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let o = tmux(&[
        "new-session",
        "-d",
        "-s",
        &name,
        "-x",
        "120",
        "-y",
        "40",
        "-e",
        "NO_COLOR=1",
        &shell,
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s = Session(name);

    // The table fills in and finishes, broken portals first.
    let screen = s.wait_for("18/18");
    assert!(
        screen.contains("PORTAL") && screen.contains("STAGE"),
        "{screen}"
    );
    let first_row = screen.lines().find(|l| l.starts_with("›")).unwrap();
    assert!(first_row.contains("1 broken"), "{screen}");
    assert!(screen.contains("6 broken"), "{screen}");

    // Filter to the broken ones.
    s.keys(&["/", "broken", "Enter"]);
    // The table's title names the filter once it is applied; "/broken"
    // alone also matches the input line while the keys are still arriving.
    let screen = s.wait_for("sorted by priority · /broken");
    let rows: Vec<&str> = screen.lines().filter(|l| l.contains(" 1 broken")).collect();
    assert_eq!(rows.len(), 6, "{screen}");
    assert!(!screen.contains("good-0001"), "{screen}");

    // Move to v6-refused and open its detail: the finding and what to do.
    let target = rows
        .iter()
        .position(|l| l.contains("v6-refused-0005"))
        .unwrap();
    for _ in 0..target {
        s.keys(&["j"]);
    }
    s.keys(&["Enter"]);
    let screen = s.wait_for("Findings");
    assert!(screen.contains("v6-refused-0005 —"), "{screen}");
    assert!(
        screen.contains("fail  web.v6-reachable: 2 of 2 IPv6 endpoints do not accept TCP"),
        "{screen}"
    );
    assert!(
        screen.contains("→ Make the web server listen on IPv6"),
        "{screen}"
    );

    // Export the view, then quit: the terminal comes back.
    s.keys(&["Escape", "e", "c"]);
    s.wait_for("written to ");
    let exported: Vec<_> = std::fs::read_dir(lab.dir.path())
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "csv"))
        .collect();
    assert_eq!(exported.len(), 1);
    let csv = std::fs::read_to_string(&exported[0]).unwrap();
    assert_eq!(
        csv.lines().count(),
        1 + 6,
        "the six broken portals of the view:\n{csv}"
    );
    s.keys(&["Escape", "q"]);
    let start = Instant::now();
    while tmux(&["has-session", "-t", &s.0]).status.success() {
        assert!(start.elapsed() < Duration::from_secs(10), "q did not quit");
        std::thread::sleep(Duration::from_millis(100));
    }
}
