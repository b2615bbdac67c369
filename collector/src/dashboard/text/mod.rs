//! Every word of the dashboard's pages, in English and Vietnamese: one
//! table per language, so a missing translation is a compile error. This
//! file holds the table's fields ([`Texts`]) and the labels looked up in it;
//! the tables themselves are in `en.rs` ([`EN`]) and `vi.rs` ([`VI`]).

mod en;
mod vi;

use v6audit_model::{Lang, Stage, Status};

pub use en::EN;
pub use vi::VI;

/// The words of one language.
#[derive(Debug)]
pub struct Texts {
    /// The language's name in itself; no page shows it (the switch spells both names).
    pub lang_name: &'static str,
    /// The skip link to the main content, first on every page.
    pub skip_to_content: &'static str,
    // navigation
    /// The navigation's link to the overview (`/`).
    pub nav_overview: &'static str,
    /// The navigation's link to `/portals`.
    pub nav_portals: &'static str,
    /// The navigation's link to `/agencies`.
    pub nav_agencies: &'static str,
    /// The navigation's link to `/fix-first`.
    pub nav_fix_first: &'static str,
    /// The navigation's link to `/changes`.
    pub nav_changes: &'static str,
    /// The navigation's link to `/admin`.
    pub nav_admin: &'static str,
    /// The name of the main navigation, for screen readers.
    pub nav_label: &'static str,
    /// The name of the language switch, for screen readers.
    pub language: &'static str,
    /// The footer's words before the time zone the page's times are in.
    pub footer_times: &'static str,
    /// The footer's link to the API's JSON answer with the same numbers.
    pub footer_api: &'static str,
    // stages
    /// The label of the stage filter and column.
    pub stage: &'static str,
    /// Each stage's label, by stage number (0 to 4).
    pub stages: [&'static str; 5],
    /// In place of the stage of a portal no agent has measured.
    pub unmeasured: &'static str,
    /// Each category's label: citizen services, business services, information, internal.
    pub categories: [&'static str; 4],
    /// A finding's status: pass, fail, warn, info, skip, error.
    pub statuses: [&'static str; 6],
    // overview
    /// The overview's title.
    pub overview_title: &'static str,
    /// The heading of today's portal counts by stage.
    pub portals_now: &'static str,
    /// After the number of portals, on the overview.
    pub portals_total: &'static str,
    /// After the share of portals at stage 3 or above, on the overview.
    pub share_dual_stack: &'static str,
    /// The heading and chart title of the overview's progress chart.
    pub progress_title: &'static str,
    /// The caption of a progress chart (overview, agency page), before its range of dates.
    pub progress_caption: &'static str,
    /// In place of the overview's progress chart while no report is stored.
    pub no_history: &'static str,
    /// The heading of the overview's campaigns table.
    pub campaigns_title: &'static str,
    /// In place of the campaigns table when there is no campaign.
    pub no_campaigns: &'static str,
    /// The campaigns table's column of campaign names.
    pub campaign: &'static str,
    /// The target stage: a campaigns table column and a field of the admin's campaign form.
    pub target: &'static str,
    /// The deadline: a campaigns table column and a field of the admin's campaign form.
    pub deadline: &'static str,
    /// The campaigns table's column of portals at their target stage.
    pub at_target: &'static str,
    /// The campaigns table's column of projected completion dates.
    pub projected: &'static str,
    /// In place of a campaign's projected completion date when its share at target is not rising.
    pub not_rising: &'static str,
    /// A campaign's status when it is projected to be done by its deadline.
    pub on_track: &'static str,
    /// A campaign's status when it is not projected to be done by its deadline.
    pub behind: &'static str,
    /// A campaign's status when every portal it selects is at the target stage.
    pub done: &'static str,
    /// The heading of the agents table (overview, admin).
    pub agents_title: &'static str,
    /// In place of the overview's agents table when no agent exists.
    pub no_agents: &'static str,
    /// The agent column (agents tables, changes tables).
    pub agent: &'static str,
    /// The vantage column of the agents tables, and the vantage filter on `/portals`.
    pub vantage: &'static str,
    /// The agents tables' column of each agent's last report.
    pub last_report: &'static str,
    /// An agent's last report when it has never pushed one.
    pub never: &'static str,
    /// The status of an agent with no report for `dashboard.stale_after_hours`.
    pub stale: &'static str,
    /// The status of an agent that reported within `dashboard.stale_after_hours`.
    pub fresh: &'static str,
    /// The status of an agent whose token is revoked.
    pub revoked: &'static str,
    /// The heading of the last 7 days' regressions and improvements.
    pub this_week: &'static str,
    /// After the count of regressions (overview), and the tab of regressions on `/changes`.
    pub regressions: &'static str,
    /// After the count of improvements (overview), and the tab of improvements on `/changes`.
    pub improvements: &'static str,
    /// The overview's link to `/changes`.
    pub see_changes: &'static str,
    // portals
    /// The title of `/portals`.
    pub portals_title: &'static str,
    /// The label of the search box on `/portals`.
    pub search: &'static str,
    /// The search box's placeholder: what the search looks in.
    pub search_hint: &'static str,
    /// The agency filter, column and fact label.
    pub agency: &'static str,
    /// The category filter and fact label.
    pub category: &'static str,
    /// The label of the tag filter.
    pub tag: &'static str,
    /// The option of a filter that matches every value.
    pub any: &'static str,
    /// The button that applies the filters (`/portals`) or the year (`/agencies`).
    pub apply: &'static str,
    /// The link that clears the filters on `/portals`.
    pub clear: &'static str,
    /// Between the number of portals shown and the number in all.
    pub shown_of: &'static str,
    /// The portal column, and the label of a portal's id.
    pub portal: &'static str,
    /// The column of portal names.
    pub name: &'static str,
    /// The column of the vantages that reach a portal over IPv6.
    pub reachable_from: &'static str,
    /// The priority column and fact label.
    pub priority: &'static str,
    /// The column of when a portal was observed, and the label of a vantage's observation time.
    pub observed: &'static str,
    /// In place of the portal table's rows when no portal matches the filters.
    pub no_portals: &'static str,
    /// "Sort by"; no page shows it (the column headers sort the table).
    pub sort_by: &'static str,
    // detail
    /// The label of a portal's URL.
    pub url: &'static str,
    /// The label of a portal's audience.
    pub audience: &'static str,
    /// The label of a portal's tags.
    pub tags: &'static str,
    /// The label of a portal's stage over all vantages.
    pub combined_stage: &'static str,
    /// What the stage over all vantages means, after the reach summary.
    pub combined_hint: &'static str,
    /// How many vantages reach the portal over IPv6: `{n}` of `{of}`.
    pub reach_summary: &'static str,
    /// The note on a portal described by its agent only.
    pub not_in_inventory: &'static str,
    /// The label of a vantage's score (out of 100).
    pub score: &'static str,
    /// The heading of a vantage's findings.
    pub findings: &'static str,
    /// The findings table's rule column.
    pub rule: &'static str,
    /// The status column (findings table, agents tables).
    pub status: &'static str,
    /// The findings table's message column, and the changes tables' message column.
    pub message: &'static str,
    /// The findings table's remediation column.
    pub remediation: &'static str,
    /// The heading of a vantage's evidence.
    pub evidence: &'static str,
    /// The heading of a vantage's A and AAAA addresses.
    pub addresses: &'static str,
    /// The heading of a vantage's certificates, one row per address.
    pub certificates: &'static str,
    /// The certificates table's address column.
    pub address: &'static str,
    /// The certificates table's subject column (shown as subject / issuer).
    pub subject: &'static str,
    /// The certificates table's issuer (shown as subject / issuer).
    pub issuer: &'static str,
    /// The certificates table's column of the names a certificate covers.
    pub names: &'static str,
    /// The certificates table's column of expiry dates.
    pub valid_until: &'static str,
    /// The certificates table's chain column.
    pub chain: &'static str,
    /// The heading of a vantage's redirect chains, one per family.
    pub redirects: &'static str,
    /// The heading of a vantage's timings table, IPv4 against IPv6 (ms).
    pub timings: &'static str,
    /// The timings table's first column: what was measured.
    pub measure: &'static str,
    /// The heading and chart title of a portal's stage over time.
    pub timeline: &'static str,
    /// The caption of a portal's stage over time.
    pub timeline_caption: &'static str,
    /// The heading of a portal's changes.
    pub what_changed: &'static str,
    /// In place of a changes table (portal page, `/changes`) with nothing in it.
    pub no_changes: &'static str,
    /// On a portal's page when no agent has measured it.
    pub not_measured_yet: &'static str,
    /// The text of the page for a portal id nobody knows.
    pub no_such_portal: &'static str,
    /// In place of an empty list of addresses or certificates.
    pub none: &'static str,
    /// The timings row of the A and AAAA lookups.
    pub dns_lookup: &'static str,
    /// The timings row of the TCP connect.
    pub tcp_connect: &'static str,
    /// The timings row of the TLS handshake.
    pub tls_handshake: &'static str,
    /// The timings row of the HTTP response.
    pub http_response: &'static str,
    /// "Page fetch"; no page shows it.
    pub fetch_outcome: &'static str,
    /// The timings row of the median of 3 TCP connects (the latency probe).
    pub connect_median: &'static str,
    /// The timings row of the ICMPv6 echo round trips.
    pub icmpv6_echo: &'static str,
    /// The heading of the other hosts a page loads from, followed by `over_ipv6` in parentheses.
    pub subresources: &'static str,
    /// After `subresources`, in parentheses: the hosts were tried over IPv6.
    pub over_ipv6: &'static str,
    /// The heading of a vantage's SMTP sessions with the mail servers.
    pub mail_servers: &'static str,
    /// A host reached over IPv6, or not.
    pub reach_ok: &'static str,
    /// The mark of a host or mail server that failed (see `reach_ok`).
    pub reach_fail: &'static str,
    /// After an ICMPv6 echo's round trip, before the reply's hop limit.
    pub hop_limit: &'static str,
    /// After an SMTP session that did not offer STARTTLS.
    pub no_starttls: &'static str,
    // priority
    /// The priority part that puts a broken portal first (its bonus).
    pub priority_bonus: &'static str,
    /// The category's weight: `{category}` is its label.
    pub priority_category: &'static str,
    /// The audience's factor: `{n}` is the audience.
    pub priority_audience: &'static str,
    /// The priority part of the audience factor when the inventory gives no audience.
    pub priority_no_audience: &'static str,
    /// The priority part of the number of stages to go to stage 3.
    pub priority_distance: &'static str,
    // agencies
    /// The title of `/agencies`.
    pub agencies_title: &'static str,
    /// The label of the year selector on `/agencies`.
    pub year: &'static str,
    /// The rank column (`/agencies`) and label (agency page).
    pub rank: &'static str,
    /// The readiness index column (`/agencies`) and label (agency page).
    pub index: &'static str,
    /// The trend column: an agency's index against a year before, a campaign's share at target.
    pub trend: &'static str,
    /// The portals column (`/agencies`), and the heading of an agency's portals.
    pub portals: &'static str,
    /// The summary of the ranking method's details on `/agencies`.
    pub method: &'static str,
    /// Before the day the ranking is taken on.
    pub as_of: &'static str,
    /// In place of the ranking when there is no agency.
    pub no_agencies: &'static str,
    /// The heading of an agency's progress chart.
    pub agency_progress: &'static str,
    /// The text of the page for an agency name nobody knows.
    pub no_such_agency: &'static str,
    /// The trend of an agency that had no index a year before.
    pub new_this_year: &'static str,
    /// How the readiness index is computed (in English, [`crate::views::RANKING_METHOD`]).
    pub ranking_method: &'static str,
    // fix first
    /// The title of `/fix-first`.
    pub fix_title: &'static str,
    /// The lead of `/fix-first`: which portals it lists, in which order.
    pub fix_intro: &'static str,
    /// Before the number of problems in a portal's plan on `/fix-first`.
    pub problems: &'static str,
    /// Before the number of steps in a portal's plan on `/fix-first`.
    pub steps: &'static str,
    /// Before a migration step's check.
    pub verify: &'static str,
    /// The link to the whole fix-first list, before its length.
    pub show_all: &'static str,
    /// In place of the fix-first list when every portal is at stage 3 or above.
    pub nothing_to_fix: &'static str,
    /// In place of the steps of a portal no agent has measured.
    pub plan_unavailable: &'static str,
    // changes
    /// The title of `/changes`.
    pub changes_title: &'static str,
    /// The tab of every change on `/changes`.
    pub all: &'static str,
    /// The column of when a change happened.
    pub when: &'static str,
    /// The column of what changed (its kind and stages).
    pub change: &'static str,
    /// The link to the next page of older changes.
    pub older: &'static str,
    /// Each event kind (`lost_ipv6`, …) with its label.
    pub kinds: [(&'static str, &'static str); 7],
    /// A change of stage: "from {from} to {to}".
    pub stage_change: &'static str,
    // admin
    /// The title of `/admin`.
    pub admin_title: &'static str,
    /// On `/admin` when no admin token is configured.
    pub admin_not_configured: &'static str,
    /// The label of the admin token field of the sign-in form.
    pub admin_token: &'static str,
    /// The sign-in button.
    pub sign_in: &'static str,
    /// The sign-out button.
    pub sign_out: &'static str,
    /// Beside the sign-out button.
    pub signed_in: &'static str,
    /// The error of a sign-in with a wrong token.
    pub wrong_token: &'static str,
    /// The button that revokes an agent's token.
    pub revoke: &'static str,
    /// The heading of the inventory upload form.
    pub upload_inventory: &'static str,
    /// The label of the uploaded inventory's name.
    pub inventory_name: &'static str,
    /// The label of the uploaded inventory's YAML text.
    pub inventory_text: &'static str,
    /// The upload button.
    pub upload: &'static str,
    /// Before the names of the uploaded inventories.
    pub uploaded_inventories: &'static str,
    /// The heading of the campaign form.
    pub create_campaign: &'static str,
    /// The label of the new campaign's id.
    pub campaign_id: &'static str,
    /// The label of the new campaign's name.
    pub campaign_name: &'static str,
    /// The campaign form's button.
    pub create: &'static str,
    /// The legend of the campaign form's category boxes.
    pub categories_optional: &'static str,
    /// The label of the campaign form's agencies, one a line.
    pub agencies_optional: &'static str,
    /// The label of the campaign form's tags, comma-separated.
    pub tags_optional: &'static str,
    /// The notice after an admin action succeeded.
    pub done_ok: &'static str,
    /// The error of an admin form that fails the same-origin or CSRF check.
    pub forbidden: &'static str,
    // errors
    /// The title of the page of an error on the collector's side.
    pub error_title: &'static str,
    /// The text of the page of an error on the collector's side; the details go to the log.
    pub internal_error: &'static str,
    /// The title of the page for a path nothing serves (its text too), an unknown portal or agency.
    pub not_found: &'static str,
    /// The error page's link to the overview.
    pub back_to_overview: &'static str,
}

impl Texts {
    /// The words of `lang`.
    pub fn of(lang: Lang) -> &'static Self {
        match lang {
            Lang::En => &EN,
            Lang::Vi => &VI,
        }
    }

    /// A stage's label; "not measured" for none.
    pub fn stage_label(&self, stage: Option<Stage>) -> &'static str {
        stage.map_or(self.unmeasured, |s| self.stages[usize::from(s.number())])
    }

    /// A category's label.
    pub fn category_label(&self, c: v6audit_model::Category) -> &'static str {
        use v6audit_model::Category;
        match c {
            Category::Citizen => self.categories[0],
            Category::Business => self.categories[1],
            Category::Information => self.categories[2],
            Category::Internal => self.categories[3],
        }
    }

    /// A finding's status in words (its class stays `status.as_str()`).
    pub fn status_label(&self, status: Status) -> &'static str {
        match status {
            Status::Pass => self.statuses[0],
            Status::Fail => self.statuses[1],
            Status::Warn => self.statuses[2],
            Status::Info => self.statuses[3],
            Status::Skip => self.statuses[4],
            Status::Error => self.statuses[5],
        }
    }

    /// An event kind's label.
    pub fn kind_label(&self, kind: &str) -> &'static str {
        self.kinds
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or("?", |(_, l)| *l)
    }
}
