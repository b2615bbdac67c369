//! The portals a run audits: held in a list or read as the run goes (an
//! inventory streamed from its file), with the names of all of them; and
//! the `www.`/apex counterparts added as they pass, each right after its
//! portal, so that neither costs memory in proportion to the inventory.

use std::collections::HashSet;
use std::sync::Arc;

use futures_util::stream::{self, BoxStream};
use futures_util::{Stream, StreamExt};
use v6audit_model::Portal;
use v6audit_model::inventory::Names;

use super::Auditor;
use crate::probe::dns;

/// The portals of a run, in order, and the names of all of them (to tell
/// whether a counterpart is audited already).
pub struct Portals {
    stream: BoxStream<'static, Portal>,
    names: Arc<Names>,
}

impl std::fmt::Debug for Portals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Portals")
    }
}

impl Portals {
    /// Portals that arrive as the run goes: `names` must name all of them.
    pub fn streamed(portals: impl Stream<Item = Portal> + Send + 'static, names: Names) -> Self {
        Self {
            stream: portals.boxed(),
            names: Arc::new(names),
        }
    }

    /// The portals, one at a time.
    pub(super) fn into_stream(self) -> BoxStream<'static, Portal> {
        self.stream
    }
}

impl From<Vec<Portal>> for Portals {
    fn from(portals: Vec<Portal>) -> Self {
        let names = Names::of(&portals);
        Self::streamed(stream::iter(portals), names)
    }
}

impl Auditor {
    /// Adds each portal's `www.` counterpart when the portal is at its
    /// zone's apex (found by the zone walk, never by counting labels), and
    /// the apex when the portal is `www.` of it, as citizens type either;
    /// only when that name has an address, is not audited already, and the
    /// portal allows it (`also_www`). A counterpart follows its portal.
    pub async fn expand(&self, portals: Vec<Portal>) -> Vec<Portal> {
        self.expanded(portals.into()).into_stream().collect().await
    }

    /// [`Auditor::expand`] as the portals pass: `concurrency` lookups in
    /// flight, in order.
    pub(super) fn expanded(&self, portals: Portals) -> Portals {
        let Portals { stream, names } = portals;
        let me = self.clone();
        let (known, all) = (names.clone(), names.clone());
        // Counterparts already added, by id (few: only apex and `www.` portals have one).
        let mut added: HashSet<String> = HashSet::new();
        let expanded = stream
            .map(move |p| {
                let (me, known) = (me.clone(), known.clone());
                async move {
                    let other = me.counterpart(&p, &known).await;
                    (p, other)
                }
            })
            .buffered(self.ctx.settings.concurrency.max(1))
            .flat_map(move |(p, other)| {
                let other = other.filter(|c| !names.has_id(&c.id) && added.insert(c.id.clone()));
                if let Some(c) = &other {
                    tracing::debug!(portal = %c.id, host = %c.host, "counterpart added");
                }
                stream::iter(std::iter::once(p).chain(other))
            });
        Portals {
            stream: expanded.boxed(),
            names: all,
        }
    }

    /// The `www.`/apex counterpart of `p` worth auditing, if it has one.
    async fn counterpart(&self, p: &Portal, known: &Names) -> Option<Portal> {
        if !p.also_www {
            return None;
        }
        // Finding a counterpart is part of a portal's work: it ends by the
        // budget too.
        let step = self
            .ctx
            .settings
            .timeout
            .min(self.ctx.settings.portal_budget);
        let apex = tokio::time::timeout(step, self.ctx.zones.apex(&self.ctx.dns, &p.host))
            .await
            .ok()?
            .ok()?;
        let other = if apex == p.host {
            format!("www.{apex}")
        } else if p.host == format!("www.{apex}") {
            apex
        } else {
            return None;
        };
        if known.has_host(&other) {
            return None;
        }
        let (a, aaaa) = tokio::time::timeout(step, dns::host_addresses(&self.ctx.dns, &other))
            .await
            .ok()?;
        if a.addrs.is_empty() && aaaa.addrs.is_empty() {
            return None;
        }
        p.counterpart(&other)
    }
}
