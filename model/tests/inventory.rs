//! Inventory v1: good files load, and each invalid file gives exactly the error
//! a user must see (file, line, column, field, what is wrong).

// A test that cannot unwrap should fail loudly, not handle the error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use v6audit_model::inventory::{INVENTORY_SCHEMA, InventoryFile, json_schema};
use v6audit_model::{Category, Inventory, InventoryStream, PortSpec, Portal, Stage};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/inventory")
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Loads a fixture under the short name errors should show.
fn load(rel: &str) -> Result<Inventory, String> {
    let text = std::fs::read_to_string(fixtures().join(rel)).unwrap();
    Inventory::parse(&text, rel).map_err(|e| e.to_string())
}

#[test]
fn every_good_fixture_loads() {
    for entry in std::fs::read_dir(fixtures().join("good")).unwrap() {
        let path = entry.unwrap().path();
        Inventory::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

#[test]
fn invalid_fixtures_give_exact_errors() {
    let cases: &[(&str, &str)] = &[
        (
            // Regression (a hostile tester): the YAML reader's advice to
            // its caller ("set DuplicateKeyPolicy in Options") reached the user.
            "invalid/duplicate-key.yaml",
            "invalid/duplicate-key.yaml:4:5: portals[0].id: duplicate key `id`: write each key once",
        ),
        (
            "invalid/duplicate-id.yaml",
            "invalid/duplicate-id.yaml:7:9: portals[2].id: duplicate id `dichvucong` (first used at line 3)",
        ),
        (
            "invalid/unknown-field.yaml",
            "invalid/unknown-field.yaml:5:5: portals[0].agnecy: unknown field `agnecy`, expected one of id, url, name, agency, category, audience, ports, tags, target_stage, also_www",
        ),
        (
            "invalid/bad-url.yaml",
            "invalid/bad-url.yaml:6:10: portals[1].url: invalid URL `https://dich vu cong.gov.vn/`: invalid international domain name",
        ),
        (
            "invalid/ftp-url.yaml",
            "invalid/ftp-url.yaml:4:10: portals[0].url: invalid URL `ftp://files.example.gov.vn/`: the scheme must be http or https, not `ftp`",
        ),
        (
            "invalid/unknown-category.yaml",
            "invalid/unknown-category.yaml:5:15: portals[0].category: unknown variant `citizens`, expected one of citizen, business, information, internal",
        ),
        (
            "invalid/wrong-schema.yaml",
            "invalid/wrong-schema.yaml:1:9: schema: unknown inventory schema `v6audit/inventory/v2`; this v6audit reads `v6audit/inventory/v1`",
        ),
        (
            "invalid/bad-id.yaml",
            "invalid/bad-id.yaml:3:9: portals[0].id: invalid id `Dịch_vụ_công`: use lower-case letters, digits and hyphens (a-z, 0-9, -), not starting or ending with a hyphen",
        ),
        (
            "invalid/port-not-listed.yaml",
            "invalid/port-not-listed.yaml:5:12: portals[0].ports: ports [80, 443] must include the URL's port 8443",
        ),
        (
            "invalid/address-literal.yaml",
            "invalid/address-literal.yaml:4:10: portals[0].url: invalid URL `https://[2001:db8::10]/`: the host must be a name (an address literal has no AAAA record to audit)",
        ),
        (
            "invalid/target-stage.yaml",
            "invalid/target-stage.yaml:5:19: portals[0].target_stage: stage must be 0 to 4, not 7",
        ),
        (
            "invalid/several.yaml",
            "invalid/several.yaml:5:9: portals[1].id: duplicate id `a` (first used at line 3)\n\
             invalid/several.yaml:8:10: portals[2].url: invalid URL `not a url`: relative URL without a base\n\
             invalid/several.yaml:9:9: portals[3].id: invalid id `-d`: use lower-case letters, digits and hyphens (a-z, 0-9, -), not starting or ending with a hyphen",
        ),
        (
            "invalid/missing-url.yaml",
            "invalid/missing-url.yaml:4:5: portals[0]: missing field `url`",
        ),
        (
            "invalid/not-yaml.yaml",
            "invalid/not-yaml.yaml:4:10: portals[0].url: unclosed quote",
        ),
        (
            "invalid/campaign.yaml",
            "invalid/campaign.yaml:6:9: campaigns[0].select.portals: campaign `citizen` selects `dvc`, which is not a portal of this inventory\n\
             invalid/campaign.yaml:8:15: campaigns[0].deadline: `31/12/2026` is not a date; write YYYY-MM-DD",
        ),
        (
            "invalid/empty.yaml",
            "invalid/empty.yaml:1:1: unexpected end of input",
        ),
        (
            "invalid/long-label.yaml",
            "invalid/long-label.yaml:4:10: portals[0].url: invalid URL `https://cong-thong-tin-dien-tu-bo-khoa-hoc-va-cong-nghe-viet-nam-2025-mo.gov.vn/`: the label `cong-thong-tin-dien-tu-bo-khoa-hoc-va-cong-nghe-viet-nam-2025-mo` is 64 characters long; a DNS label has at most 63",
        ),
        (
            "invalid/percent-host.yaml",
            "invalid/percent-host.yaml:4:10: portals[0].url: invalid URL `https://dichvucong%2egov.vn/`: the host `dichvucong%2egov.vn` has a percent-escape (`%2e`); write the host name itself",
        ),
        (
            // Every problem in one run, in the order of the file: serde stops
            // at the first, the rest are found piece by piece.
            "invalid/many-problems.yaml",
            "invalid/many-problems.yaml:3:3: defaults.categroy: unknown field `categroy`, expected one of category, ports, tags, target_stage, also_www\n\
             invalid/many-problems.yaml:7:5: portals[0].audiance: unknown field `audiance`, expected one of id, url, name, agency, category, audience, ports, tags, target_stage, also_www\n\
             invalid/many-problems.yaml:10:15: portals[1].category: unknown variant `citizens`, expected one of citizen, business, information, internal\n\
             invalid/many-problems.yaml:11:9: portals[2].id: duplicate id `dichvucong` (first used at line 5)\n\
             invalid/many-problems.yaml:14:10: portals[3].url: invalid URL `https://bocongan%2egov.vn/`: the host `bocongan%2egov.vn` has a percent-escape (`%2e`); write the host name itself",
        ),
    ];
    let mut seen = 0;
    let mut wrong = Vec::new();
    for (file, want) in cases {
        match load(file) {
            Ok(_) => wrong.push(format!("{file} loaded, but must fail with:\n  {want}")),
            Err(got) if got != *want => {
                wrong.push(format!("{file}:\n  want: {want}\n  got:  {got}"))
            }
            Err(_) => {}
        }
        seen += 1;
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // Every invalid fixture has its row in the table.
    let on_disk = std::fs::read_dir(fixtures().join("invalid"))
        .unwrap()
        .count();
    assert_eq!(
        seen, on_disk,
        "each file under invalid/ needs a row in this table"
    );
}

/// Regression (issue 13): a host name with a label over 63 characters, or
/// over 253 in all, passed the inventory and failed only when probed. It is
/// now refused when the inventory is loaded, at its line and column.
#[test]
fn host_label_over_63_characters_is_refused_at_load() {
    let path = fixtures().join("invalid/long-label.yaml");
    let err = Inventory::load(&path).unwrap_err();
    let errors = err.errors();
    assert_eq!(errors.len(), 1, "{err}");
    assert_eq!((errors[0].line, errors[0].column), (4, 10));
    assert_eq!(errors[0].field.as_deref(), Some("portals[0].url"));
    assert!(
        errors[0]
            .message
            .ends_with("is 64 characters long; a DNS label has at most 63"),
        "{err}"
    );

    // 63 is the most a label may have; 253 the most a name may.
    let label = "a".repeat(63);
    let ok = format!(
        "schema: v6audit/inventory/v1\nportals:\n  - id: a\n    url: https://{label}.gov.vn/\n"
    );
    Inventory::parse(&ok, "ok.yaml").unwrap();
    let host = format!("{label}.{label}.{label}.{label}.vn");
    let long =
        format!("schema: v6audit/inventory/v1\nportals:\n  - id: a\n    url: https://{host}/\n");
    let err = Inventory::parse(&long, "long.yaml")
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        format!(
            "long.yaml:4:10: portals[0].url: invalid URL `https://{host}/`: the host name is 258 characters long; a DNS name has at most 253"
        )
    );
}

/// Regression (issue 17): a bad inventory showed one structural problem per
/// run (an unknown field, then a bad category, then ...). All of them are
/// listed at once, even several in one portal entry's neighbours, and the
/// good entries are still checked.
#[test]
fn every_problem_of_a_bad_inventory_is_listed_in_one_run() {
    let text = "\
schema: v6audit/inventory/v1
portals:
  - id: a
    url: https://a.gov.vn/
    audiance: 10
  - id: b
    url: https://b.gov.vn/
    category: citizens
  - id: c
    url: https://c.gov.vn/
  - id: Bad
    url: https://d.gov.vn/
    tagz: [x]
campaigns:
  - id: all
    target_stage: 3
    deadline: 2026-12-31
    selekt: {}
";
    let err = Inventory::parse(text, "inv.yaml").unwrap_err();
    let places: Vec<(u64, Option<String>)> = err
        .errors()
        .into_iter()
        .map(|e| (e.line, e.field))
        .collect();
    assert_eq!(
        places,
        vec![
            (5, Some("portals[0].audiance".to_owned())),
            (8, Some("portals[1].category".to_owned())),
            (11, Some("portals[3].id".to_owned())),
            (13, Some("portals[3].tagz".to_owned())),
            (18, Some("campaigns[0].selekt".to_owned())),
        ],
        "{err}"
    );
    // A YAML syntax error still stops at the first: nothing after it can be read.
    let err = Inventory::parse("schema: v6audit/inventory/v1\nportals: [\n", "x.yaml").unwrap_err();
    assert_eq!(err.errors().len(), 1, "{err}");
}

#[test]
fn defaults_ports_and_names_are_applied() {
    let inv = load("good/ports-and-defaults.yaml").unwrap();
    let a = inv.portal("a").unwrap();
    assert_eq!(a.category, Category::Business);
    assert_eq!(a.target_stage, Some(Stage::Reachable));
    assert_eq!(a.tags, vec!["national".to_owned()]);
    assert_eq!(
        a.ports,
        vec![
            PortSpec {
                port: 80,
                tls: false
            },
            PortSpec {
                port: 443,
                tls: true
            },
            PortSpec {
                port: 8443,
                tls: false
            },
        ]
    );
    // A URL with its own port probes that port (plus the defaults do not apply).
    let b = inv.portal("b").unwrap();
    assert_eq!(b.category, Category::Citizen);
    assert_eq!(b.target_stage, Some(Stage::Ipv6Complete));
    assert_eq!(b.tags, vec!["national".to_owned(), "pilot".to_owned()]);
    assert_eq!(
        b.ports,
        vec![PortSpec {
            port: 8080,
            tls: false
        }]
    );
    assert_eq!(b.url.as_str(), "http://b.example.gov.vn:8080/dv?x=1");
    // Host names are lower-cased and lose the final dot.
    let c = inv.portal("c").unwrap();
    assert_eq!(c.host, "c.example.gov.vn");
    assert_eq!(
        c.ports,
        vec![PortSpec {
            port: 443,
            tls: true
        }]
    );
}

#[test]
fn the_vietnamese_inventory_loads_with_every_portal_classified() {
    let inv = Inventory::load(&repo().join("inventories/vn-public-services.yaml")).unwrap();
    assert!(inv.portals.len() >= 50, "{}", inv.portals.len());
    let dvc = inv.portal("dichvucong").unwrap();
    assert_eq!(dvc.name.as_deref(), Some("Cổng Dịch vụ công quốc gia"));
    assert_eq!(dvc.agency.as_deref(), Some("Văn phòng Chính phủ"));
    assert_eq!(dvc.category, Category::Citizen);
    assert_eq!(dvc.target_stage, Some(Stage::DualStack));
    // The zone cut of this one is below gov.vn: the DNS probe must find it.
    assert_eq!(
        inv.portal("dichvucong-hanoi").unwrap().host,
        "dichvucong.hanoi.gov.vn"
    );
    for p in &inv.portals {
        assert!(p.agency.is_some(), "{} has no agency", p.id);
        assert!(p.name.is_some(), "{} has no name", p.id);
    }
    // Its campaigns select what they say.
    let campaign = inv
        .campaigns
        .iter()
        .find(|c| c.id == "citizen-services-2026")
        .unwrap();
    assert_eq!(campaign.target_stage, Stage::DualStack);
    assert_eq!(campaign.deadline.to_string(), "2026-12-31");
    assert!(campaign.select.matches(dvc));
    assert!(!campaign.select.matches(inv.portal("chinhphu").unwrap()));
    let citizen = inv
        .portals
        .iter()
        .filter(|p| p.category == Category::Citizen)
        .count();
    let business = inv
        .portals
        .iter()
        .filter(|p| p.category == Category::Business)
        .count();
    assert!(
        citizen >= 9 && business >= 6,
        "{citizen} citizen, {business} business"
    );
}

#[test]
fn vietnamese_text_round_trips_through_yaml() {
    let path = repo().join("inventories/vn-public-services.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let file: InventoryFile = serde_saphyr::from_str(&text).unwrap();
    let written = serde_saphyr::to_string(&file).unwrap();
    // Written as UTF-8, not escaped.
    assert!(written.contains("Cổng Dịch vụ công quốc gia"), "{written}");
    let again = Inventory::parse(&written, "round-trip").unwrap();
    let original = Inventory::parse(&text, "round-trip").unwrap();
    assert_eq!(again.portals, original.portals);
    assert_eq!(again.name, original.name);
}

#[test]
fn json_schema_file_is_in_sync_with_the_types() {
    let path = repo().join("inventories/schema/inventory-v1.schema.json");
    let generated = json_schema();
    if std::env::var_os("V6AUDIT_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == generated,
        "{} is out of date; regenerate it with: V6AUDIT_BLESS=1 cargo test -p v6audit-model --test inventory",
        path.display()
    );
    let schema: serde_json::Value = serde_json::from_str(&generated).unwrap();
    assert_eq!(schema["properties"]["schema"]["const"], INVENTORY_SCHEMA);
    assert_eq!(schema["additionalProperties"], false);
    assert_eq!(
        schema["$defs"]["PortalEntry"]["properties"]["category"]["anyOf"][0]["$ref"],
        "#/$defs/Category"
    );
}

/// Regression (issue "Speed and scale", 1): the 100,000-portal lab inventory
/// was refused with "budget breached: Nodes { nodes: 250001 }", the YAML
/// reader's default node budget, far below what the 64 MiB file limit
/// allows. A national list of that size loads, every portal kept.
#[test]
fn an_inventory_of_100000_portals_loads() {
    let mut text = String::from("schema: v6audit/inventory/v1\nname: national\nportals:\n");
    for i in 0..100_000 {
        text.push_str(&format!(
            "  - id: portal-{i}\n    url: https://portal-{i}.example.gov.vn/\n    name: Cổng {i}\n    agency: Bộ {}\n    category: citizen\n    tags: [national, batch-{}]\n",
            i % 300,
            i % 7
        ));
    }
    let inv = Inventory::parse(&text, "national.yaml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(inv.portals.len(), 100_000);
    assert_eq!(inv.portals[99_999].id, "portal-99999");
}

/// Every portal of a streamed reading, in order.
fn streamed(
    path: &Path,
    shard: Option<v6audit_model::Shard>,
) -> Result<(InventoryStream, Vec<Portal>), String> {
    let stream = InventoryStream::open(path, shard).map_err(|e| e.to_string())?;
    let mut portals = Vec::new();
    stream
        .read(|p| {
            portals.push(p);
            true
        })
        .map_err(|e| e.to_string())?;
    Ok((stream, portals))
}

/// Issue "Speed and scale", goal 1: an inventory read portal by portal (so
/// that 100,000 portals are never held at once) gives the same portals, the
/// same campaigns and, for a bad file, the same list of problems as the
/// whole reading, for every fixture and every shipped inventory.
#[test]
fn a_streamed_inventory_reads_as_the_whole_one() {
    let mut files: Vec<PathBuf> = Vec::new();
    for dir in [
        fixtures().join("good"),
        fixtures().join("invalid"),
        repo().join("inventories"),
    ] {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                files.push(path);
            }
        }
    }
    assert!(files.len() > 20, "{files:?}");
    for path in &files {
        let whole = Inventory::load(path).map_err(|e| e.to_string());
        match (whole, streamed(path, None)) {
            (Ok(whole), Ok((stream, portals))) => {
                assert_eq!(portals, whole.portals, "{}", path.display());
                assert_eq!(stream.campaigns, whole.campaigns, "{}", path.display());
                assert_eq!(stream.name, whole.name, "{}", path.display());
                assert_eq!((stream.total, stream.count), (portals.len(), portals.len()));
                assert!(
                    portals
                        .iter()
                        .all(|p| stream.names.has_id(&p.id) && stream.names.has_host(&p.host))
                );
            }
            (Err(whole), Err(streamed)) => assert_eq!(streamed, whole, "{}", path.display()),
            (whole, streamed) => panic!(
                "{}: read whole {:?}, streamed {:?}",
                path.display(),
                whole.map(|i| i.portals.len()),
                streamed.map(|s| s.1.len())
            ),
        }
    }
}

/// The defaults may come after the portals in the file; a streamed reading
/// still applies them, and a shard reads only its own portals.
#[test]
fn a_streamed_inventory_applies_defaults_written_after_the_portals_and_keeps_to_its_shard() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("late-defaults.yaml");
    let mut text = String::from("schema: v6audit/inventory/v1\nportals:\n");
    for i in 0..40 {
        text.push_str(&format!("  - id: p{i}\n    url: https://p{i}.gov.vn/\n"));
    }
    text.push_str("defaults:\n  category: citizen\n  tags: [late]\n  target_stage: 3\n");
    std::fs::write(&path, &text).unwrap();
    let whole = Inventory::load(&path).unwrap();
    let (_, portals) = streamed(&path, None).unwrap();
    assert_eq!(portals, whole.portals);
    assert!(portals.iter().all(|p| p.category == Category::Citizen
        && p.tags == ["late"]
        && p.target_stage == Some(Stage::DualStack)));
    let shard = v6audit_model::Shard::new(2, 3).unwrap();
    let (stream, mine) = streamed(&path, Some(shard)).unwrap();
    let mut want = whole.portals;
    shard.retain(&mut want);
    assert_eq!(mine, want);
    assert_eq!((stream.total, stream.count), (40, want.len()));
}

/// A file changed between its check and its reading (a portal added that
/// was never checked) stops the run with an error naming the file, before
/// any portal, instead of auditing what was not checked.
#[test]
fn an_inventory_changed_while_audited_stops_with_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inv.yaml");
    std::fs::write(&path, inventory_of(&["a", "b"])).unwrap();
    let stream = InventoryStream::open(&path, None).unwrap();
    std::fs::write(&path, inventory_of(&["a", "evil"])).unwrap();
    let (read, err) = read_ids(&stream);
    assert!(read.is_empty(), "{read:?}");
    assert_eq!(
        err.unwrap(),
        format!(
            "{}: the inventory changed while it was being audited; the rest of it was not audited, run the audit again",
            path.display()
        )
    );
}

/// Regression (a hostile tester): a file rewritten in place while it was
/// audited, its size and time kept, was audited as it then read: a portal
/// lost, one audited twice, one at a URL never checked, and exit 0. Every
/// entry read is now one of the portals checked, each once, and all of them.
#[test]
fn an_inventory_rewritten_in_place_mid_run_stops_at_the_first_unchecked_entry() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inv.yaml");
    let original = inventory_of(&["a", "b", "c"]);
    // Each the same length as the original, so only the entries tell.
    let url_changed = original.replace("https://b.gov.vn/", "https://x.gov.vn/");
    let repeated = original.replace(
        "id: b\n    url: https://b.gov.vn/",
        "id: a\n    url: https://a.gov.vn/",
    );
    let lost = original.replace(
        "  - id: c\n    url: https://c.gov.vn/\n",
        &format!("#{}\n", "-".repeat(35)),
    );
    for (what, text, want) in [
        ("a URL changed", url_changed, vec!["a"]),
        ("an entry repeated", repeated, vec!["a"]),
        ("an entry lost", lost, vec!["a", "b"]),
    ] {
        assert_eq!(text.len(), original.len(), "{what}");
        let stream = checked_then_rewritten(&path, &original, &text);
        let (read, err) = read_ids(&stream);
        assert_eq!(read, want, "{what}");
        assert!(
            err.is_some_and(|e| e.contains("the inventory changed")),
            "{what}"
        );
    }
}

/// Regression: a file that gained an entry after all of its portals were
/// read stopped with "the rest of it was not audited", when every portal
/// checked had been. It now says that they were, and that there are more.
#[test]
fn an_inventory_that_grew_after_its_last_portal_says_every_portal_checked_was_audited() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inv.yaml");
    // The new entry takes the place of a comment of its length.
    let original = format!("{}#{}\n", inventory_of(&["a", "b"]), "-".repeat(35));
    let grown = inventory_of(&["a", "b", "d"]);
    assert_eq!(grown.len(), original.len());
    let stream = checked_then_rewritten(&path, &original, &grown);
    let (read, err) = read_ids(&stream);
    assert_eq!(read, ["a", "b"]);
    assert_eq!(
        err.unwrap(),
        format!(
            "{}: the inventory changed while it was being audited: every portal it held when it was checked was audited, and it now has more; run the audit again to audit them",
            path.display()
        )
    );
}

/// A stream of `original`, checked, and then the file rewritten in place
/// with `text` of the same length, its modification time kept: only the
/// entries can tell.
fn checked_then_rewritten(path: &Path, original: &str, text: &str) -> InventoryStream {
    std::fs::write(path, original).unwrap();
    let stream = InventoryStream::open(path, None).unwrap();
    let checked_at = std::fs::metadata(path).unwrap().modified().unwrap();
    let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    std::io::Write::write_all(&mut &file, text.as_bytes()).unwrap();
    file.set_modified(checked_at).unwrap();
    stream
}

/// An inventory of portals with these ids, each at `https://<id>.gov.vn/`.
fn inventory_of(ids: &[&str]) -> String {
    let mut text = String::from("schema: v6audit/inventory/v1\nportals:\n");
    for id in ids {
        text.push_str(&format!("  - id: {id}\n    url: https://{id}.gov.vn/\n"));
    }
    text
}

/// The ids a streamed reading handed on, and its error.
fn read_ids(stream: &InventoryStream) -> (Vec<String>, Option<String>) {
    let mut read = Vec::new();
    let result = stream.read(|p| {
        read.push(p.id);
        true
    });
    (read, result.err().map(|e| e.to_string()))
}

/// Regression (a hostile tester): `audit` read UTF-16 files (from their
/// byte-order mark) and bytes that are not UTF-8 after a UTF-8 mark, which
/// `validate` refuses; and with another schema it listed only that, where
/// `validate` lists every problem. Both readings now say the same.
#[test]
fn a_streamed_inventory_refuses_what_the_whole_reading_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let good = inventory_of(&["a", "b"]);
    let utf16: Vec<u8> = [0xff, 0xfe]
        .into_iter()
        .chain(good.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    let mut bom_then_bad = b"\xef\xbb\xbfname: \"x\xffy\"\n".to_vec();
    bom_then_bad.extend_from_slice(good.as_bytes());
    let schema_and_more = "schema: v6audit/inventory/v2\nportals:\n  - id: a\n    url: https://a.gov.vn/\n    audience: lots\n";
    for (name, bytes) in [
        ("utf16.yaml", utf16),
        ("bom-then-bad.yaml", bom_then_bad),
        ("schema-and-more.yaml", schema_and_more.as_bytes().to_vec()),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let whole = Inventory::load(&path).unwrap_err().to_string();
        let streamed = InventoryStream::open(&path, None).unwrap_err().to_string();
        assert_eq!(streamed, whole, "{name}");
    }
}
