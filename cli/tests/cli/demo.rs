//! `v6audit demo` as a new user meets it: a clean terminal, the table, the
//! collector it pushed to; and the README's sample of its output, which is
//! checked against a real run so the two cannot drift apart.

use crate::*;

/// The README's sample block: the lines between the sentence that
/// introduces it and the closing fence.
fn readme_sample(readme: &str) -> (usize, usize) {
    let intro = readme
        .find("On a\nterminal the output looks like this")
        .expect("README: the demo's sample output is introduced by \"On a terminal the output looks like this\"");
    let open = intro + readme[intro..].find("```\n").unwrap() + 4;
    let close = open + readme[open..].find("```\n").unwrap();
    (open, close)
}

/// What changes from run to run: the lab's ports, the elapsed time, the
/// round-trip times. Everything else must be identical.
fn stable(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let b = line.as_bytes();
    let mut i = 0;
    while i < b.len() {
        // ":12345" after a host or an address: the lab's random ports.
        if b[i] == b':' && i + 1 < b.len() && b[i + 1].is_ascii_digit() {
            let digits = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
            if digits >= 4 && i > 0 && (b[i - 1] == b']' || b[i - 1].is_ascii_alphanumeric()) {
                out.push_str(":PORT");
                i += 1 + digits;
                continue;
            }
        }
        let c = line[i..].chars().next().unwrap();
        out.push(c);
        i += c.len_utf8();
    }
    // "· 6.3 s" at the end of the summary; "6.2 ms" in an echo.
    let mut words: Vec<&str> = out.split(' ').collect();
    for k in 1..words.len() {
        if matches!(words[k], "s" | "ms" | "s." | "ms,") && words[k - 1].parse::<f64>().is_ok() {
            words[k - 1] = "T";
        }
    }
    words.join(" ").trim_end().to_owned()
}

/// The sample the README shows of a run: the header, the first three rows,
/// an ellipsis, the last two rows, and the summary.
fn sample_of(table: &[&str]) -> String {
    let rows: Vec<&str> = table
        .iter()
        .copied()
        .take_while(|l| !l.trim().is_empty())
        .collect();
    let summary = table
        .iter()
        .find(|l| l.contains(" portals: "))
        .expect("a summary line");
    let mut s = String::new();
    s.push_str(rows[0].trim_end());
    s.push('\n');
    for r in &rows[1..4] {
        s.push_str(r.trim_end());
        s.push('\n');
    }
    s.push_str("…\n");
    for r in &rows[rows.len() - 2..] {
        s.push_str(r.trim_end());
        s.push('\n');
    }
    s.push('\n');
    s.push_str(summary.trim_end());
    s.push('\n');
    s
}

#[test]
fn the_demo_prints_what_the_readme_shows_and_nothing_from_libraries() {
    let out = bin()
        .args(["demo", "--exit"])
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let (so, se) = (stdout(&out), stderr(&out));
    assert!(out.status.success(), "demo failed:\n{so}\n{se}");

    // The terminal: one line of its own on stderr, no library's log lines.
    let err_lines: Vec<&str> = se.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(err_lines.len(), 1, "stderr: {se}");
    assert!(
        err_lines[0].starts_with("v6audit demo: 21 simulated portals on loopback"),
        "{se}"
    );

    // The table, every scenario once, and the collector it was pushed to.
    let lines: Vec<&str> = so.lines().collect();
    assert!(lines[0].starts_with("PORTAL "), "{so}");
    let rows = lines
        .iter()
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .count();
    assert_eq!(rows, 21, "{so}");
    assert!(so.contains("\n21 portals: "), "{so}");
    assert!(
        so.contains("Pushed to a collector on SQLite (21 results stored)"),
        "{so}"
    );
    assert!(so.contains("/api/v1/portals"), "{so}");

    // The README shows this run, ports and times aside.
    let sample = sample_of(&lines);
    let readme_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let readme = std::fs::read_to_string(&readme_path).unwrap();
    let (open, close) = readme_sample(&readme);
    let shown = &readme[open..close];
    let same = shown.lines().map(stable).collect::<Vec<_>>()
        == sample.lines().map(stable).collect::<Vec<_>>();
    if !same && std::env::var_os("V6AUDIT_UPDATE_README").is_some() {
        let updated = format!("{}{sample}{}", &readme[..open], &readme[close..]);
        std::fs::write(&readme_path, updated).unwrap();
        return;
    }
    assert!(
        same,
        "the README's sample of the demo differs from what the demo prints; \
         run `V6AUDIT_UPDATE_README=1 cargo test -p v6audit --test cli demo` to write this run into it.\n\
         README:\n{shown}\ndemo:\n{sample}"
    );
}
