//! The views' tests: stages carried forward day by day, the ranking's
//! weights and a campaign's projected completion.

use std::collections::{BTreeMap, HashMap};

use time::Date;
use v6audit_model::{Inventory, Stage};
use v6audit_rules::Pack;

use super::*;
use crate::catalog::Catalog;
use crate::store::DailyStage;

fn catalog() -> Catalog {
    let text = "schema: v6audit/inventory/v1\nportals:\n\
        - {id: a, url: https://a.gov.vn/, agency: X, category: citizen}\n\
        - {id: b, url: https://b.gov.vn/, agency: X, category: citizen}\n\
        - {id: c, url: https://c.gov.vn/, agency: Y, category: information}\n\
        - {id: d, url: https://d.gov.vn/, agency: Y, category: information}\n\
        campaigns:\n\
        - {id: citizen, target_stage: 3, deadline: 2027-01-31, select: {categories: [citizen]}}\n";
    let inv = Inventory::parse(text, "t").unwrap();
    Catalog {
        portals: inv
            .portals
            .into_iter()
            .map(|p| (p.id.clone(), p))
            .collect::<BTreeMap<_, _>>(),
        campaigns: inv.campaigns,
        sources: vec![],
    }
}

fn row(day: i64, portal: &str, agent: &str, stage: u8) -> DailyStage {
    DailyStage {
        day,
        portal_id: portal.into(),
        agent: agent.into(),
        stage: Stage::try_from(stage).unwrap(),
    }
}

#[test]
fn a_day_takes_each_agents_last_stage_carried_forward_and_the_lowest() {
    let daily = [
        row(10, "a", "hn", 3),
        row(12, "a", "hn", 4),
        row(11, "a", "hcm", 1),
    ];
    let s = stages_by_day(&daily, 10, 13);
    // Day 10: only hn (3). Day 11: hcm says 1. Days 12-13: hn 4, hcm 1 carried.
    let numbers: Vec<Option<u8>> = s["a"].iter().map(|s| s.map(Stage::number)).collect();
    assert_eq!(numbers, [Some(3), Some(1), Some(1), Some(1)]);
}

#[test]
fn ranking_weighs_portals_and_counts_unmeasured_as_zero() {
    let pack = Pack::default_pack();
    let daily = [
        row(100, "a", "hn", 4),
        row(100, "b", "hn", 2),
        row(100, "c", "hn", 4),
    ];
    let r = ranking(&catalog(), &HashMap::new(), &daily, 100, &pack);
    // X: citizen weights 4 and 4: (4*4/4 + 4*2/4) / 8 = 0.75. Y: c at 4, d unmeasured: 0.5.
    assert_eq!(
        (r[0].agency.as_str(), r[0].index, r[0].rank),
        ("X", 75.0, 1)
    );
    assert_eq!((r[1].agency.as_str(), r[1].index), ("Y", 50.0));
    assert_eq!(r[1].stages.unmeasured, 1);
}

#[test]
fn a_campaign_projects_its_completion_from_the_trend() {
    let today = day_of_date(Date::from_calendar_date(2026, time::Month::November, 27).unwrap());
    // a reached stage 3 ten days ago; b is still at 2.
    let daily = [
        row(today - 29, "a", "hn", 2),
        row(today - 29, "b", "hn", 2),
        row(today - 10, "a", "hn", 3),
    ];
    let c = &campaigns(&catalog(), &daily, today)[0];
    assert_eq!((c.portals, c.at_target, c.share), (2, 1, 0.5));
    assert!(!c.done);
    // Half the portals in 30 days: the rest in about a month more, before the deadline.
    let projected = Date::parse(
        c.projected_completion.as_deref().unwrap(),
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .unwrap();
    assert!(
        projected > date_of_day(today) && projected < c_deadline(),
        "{projected}"
    );
    assert!(c.on_track);
    // No progress at all: no projection, not on track.
    let flat = [row(today - 29, "a", "hn", 2), row(today - 29, "b", "hn", 2)];
    let c = &campaigns(&catalog(), &flat, today)[0];
    assert_eq!(
        (c.projected_completion.as_deref(), c.on_track),
        (None, false)
    );
}

fn c_deadline() -> Date {
    Date::from_calendar_date(2027, time::Month::January, 31).unwrap()
}
