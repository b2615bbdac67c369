//! A lab zone that answers in the same time whatever its size: hickory's
//! in-memory zone, with the two questions it answers by scanning every record
//! answered from an index instead. hickory-server 0.26 decides between "no
//! data" and NXDOMAIN by walking all its records until it meets the name
//! (`records.keys().any(..)`), and finds the NSEC that covers a missing name
//! by walking them all backwards (`closest_nsec`): at 10,000 portals in one
//! zone, the last names took 30 times longer than the first, and the lab,
//! not the agent, set the pace of its own benchmark. Everything else (answers,
//! referrals, CNAME chains, signatures) is the in-memory zone's own.
//!
//! The index is built once from the signed zone's records, so it agrees with
//! them: the owner names in canonical order, the types at each, the NSEC set
//! at each owner, and the delegation points. A zone with a wildcard is not
//! indexed (the lab publishes none), and every question goes to hickory.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use hickory_proto::dnssec::rdata::DNSSECRData;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{LowerName, RData, RecordSet, RecordType, RrKey, TSigResponseContext};
use hickory_server::dnssec::NxProofKind;
use hickory_server::server::{Request, RequestInfo};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{
    AuthLookup, AxfrPolicy, LookupControlFlow, LookupError, LookupOptions, LookupRecords,
    Nsec3QueryInfo, ZoneHandler, ZoneTransfer, ZoneType,
};

/// What the index knows of a zone.
struct Index {
    /// Every owner name, in canonical order (RFC 4034 6.1).
    names: Vec<LowerName>,
    /// The record types at each owner name.
    types: HashMap<LowerName, HashSet<RecordType>>,
    /// The NSEC set at each owner of a signed zone, in canonical order.
    nsec: Vec<(LowerName, Arc<RecordSet>)>,
    /// Owners of NS records other than the apex: delegation points.
    cuts: HashSet<LowerName>,
}

impl Index {
    fn of(origin: &LowerName, records: &BTreeMap<RrKey, Arc<RecordSet>>) -> Option<Self> {
        let mut types: HashMap<LowerName, HashSet<RecordType>> = HashMap::new();
        let mut nsec = Vec::new();
        let mut cuts = HashSet::new();
        for (key, set) in records {
            let name = key.name().clone();
            if name.is_wildcard() {
                return None;
            }
            let rtype = key.record_type;
            if rtype == RecordType::NS && name != *origin {
                cuts.insert(name.clone());
            }
            if rtype == RecordType::NSEC {
                nsec.push((name.clone(), set.clone()));
            }
            types.entry(name).or_default().insert(rtype);
        }
        let mut names: Vec<LowerName> = types.keys().cloned().collect();
        names.sort();
        nsec.sort_by(|a, b| a.0.cmp(&b.0));
        Some(Self {
            names,
            types,
            nsec,
            cuts,
        })
    }

    /// Whether `name` is at or below a delegation point of this zone, where
    /// hickory answers with a referral.
    fn delegated(&self, origin: &LowerName, name: &LowerName) -> bool {
        let mut n = name.clone();
        while n != *origin && !n.is_root() {
            if self.cuts.contains(&n) {
                return true;
            }
            n = n.base_name();
        }
        false
    }

    /// Whether some owner name lies below `name` (an empty non-terminal:
    /// the name exists, with no records of its own). In canonical order a
    /// name's descendants come right after it.
    fn has_descendant(&self, name: &LowerName) -> bool {
        let after = self.names.partition_point(|n| n <= name);
        self.names
            .get(after)
            .is_some_and(|next| name.zone_of(next) && next != name)
    }

    /// The NSEC that covers `name`: the one at the greatest owner not after
    /// it, whose next name is after it (or which wraps to the apex), as
    /// hickory's `closest_nsec` would find by walking them all.
    fn covering(&self, name: &LowerName) -> Option<Arc<RecordSet>> {
        let at = self.nsec.partition_point(|(owner, _)| owner <= name);
        let (owner, set) = self.nsec.get(at.checked_sub(1)?)?;
        let next = set.records_without_rrsigs().find_map(|r| match &r.data {
            RData::DNSSEC(DNSSECRData::NSEC(nsec)) => {
                Some(LowerName::from(nsec.next_domain_name()))
            }
            _ => None,
        })?;
        (*name < next || next < *owner).then(|| set.clone())
    }
}

/// An in-memory zone with an index for its negative answers.
pub(super) struct IndexedZone {
    inner: Arc<InMemoryZoneHandler>,
    index: Option<Index>,
}

impl IndexedZone {
    /// Indexes a zone once it is complete (signed, if it is to be).
    pub(super) fn new(mut zone: InMemoryZoneHandler) -> Self {
        let origin = zone.origin().clone();
        let index = Index::of(&origin, zone.records_get_mut());
        Self {
            inner: Arc::new(zone),
            index,
        }
    }
}

#[async_trait::async_trait]
impl ZoneHandler for IndexedZone {
    fn zone_type(&self) -> ZoneType {
        self.inner.zone_type()
    }

    fn axfr_policy(&self) -> AxfrPolicy {
        self.inner.axfr_policy()
    }

    fn origin(&self) -> &LowerName {
        self.inner.origin()
    }

    async fn lookup(
        &self,
        name: &LowerName,
        rtype: RecordType,
        request_info: Option<&RequestInfo<'_>>,
        lookup_options: LookupOptions,
    ) -> LookupControlFlow<AuthLookup> {
        let origin = self.inner.origin();
        let answered_by_hickory = matches!(
            rtype,
            RecordType::ANY | RecordType::AXFR | RecordType::IXFR | RecordType::RRSIG
        ) || !origin.zone_of(name);
        if let Some(index) = &self.index
            && !answered_by_hickory
            && !index.delegated(origin, name)
        {
            match index.types.get(name) {
                // No record of the type and no CNAME: "no data", as hickory
                // says it once it has found the name among all its records.
                Some(types) if !types.contains(&rtype) && !types.contains(&RecordType::CNAME) => {
                    return LookupControlFlow::Continue(Err(LookupError::NameExists));
                }
                Some(_) => {}
                None if index.has_descendant(name) => {
                    return LookupControlFlow::Continue(Err(LookupError::NameExists));
                }
                None => {
                    return LookupControlFlow::Continue(Err(LookupError::from(
                        ResponseCode::NXDomain,
                    )));
                }
            }
        }
        self.inner
            .lookup(name, rtype, request_info, lookup_options)
            .await
    }

    async fn search(
        &self,
        request: &Request,
        lookup_options: LookupOptions,
    ) -> (LookupControlFlow<AuthLookup>, Option<TSigResponseContext>) {
        // As hickory's in-memory zone searches, but through this lookup.
        let info = match request.request_info() {
            Ok(info) => info,
            Err(e) => return (LookupControlFlow::Break(Err(e)), None),
        };
        if info.query.query_type() == RecordType::AXFR {
            return self.inner.search(request, lookup_options).await;
        }
        let found = self
            .lookup(
                info.query.name(),
                info.query.query_type(),
                Some(&info),
                lookup_options,
            )
            .await;
        (found, None)
    }

    async fn nsec_records(
        &self,
        name: &LowerName,
        lookup_options: LookupOptions,
    ) -> LookupControlFlow<AuthLookup> {
        let Some(index) = &self.index else {
            return self.inner.nsec_records(name, lookup_options).await;
        };
        if index
            .types
            .get(name)
            .is_some_and(|t| t.contains(&RecordType::NSEC))
        {
            // hickory's own fast path: the NSEC at the name.
            return self.inner.nsec_records(name, lookup_options).await;
        }
        // The name's cover, and the cover of the wildcard that could have
        // matched it (at its parent, kept inside the zone), once each.
        let origin = self.inner.origin();
        let parent = name.base_name();
        let wildcard = if origin.zone_of(&parent) {
            parent
        } else {
            origin.clone()
        };
        let closest = index.covering(name);
        let wildcard_proof = (wildcard != *name)
            .then(|| index.covering(&wildcard))
            .flatten();
        let proofs = match (closest, wildcard_proof) {
            (Some(c), Some(w)) if c != w => vec![w, c],
            (Some(c), _) => vec![c],
            (None, Some(w)) => vec![w],
            (None, None) => vec![],
        };
        LookupControlFlow::Continue(Ok(LookupRecords::many(lookup_options, proofs).into()))
    }

    async fn nsec3_records(
        &self,
        info: Nsec3QueryInfo<'_>,
        lookup_options: LookupOptions,
    ) -> LookupControlFlow<AuthLookup> {
        self.inner.nsec3_records(info, lookup_options).await
    }

    async fn zone_transfer(
        &self,
        request: &Request,
        lookup_options: LookupOptions,
        now: u64,
    ) -> Option<(
        Result<ZoneTransfer, LookupError>,
        Option<TSigResponseContext>,
    )> {
        self.inner.zone_transfer(request, lookup_options, now).await
    }

    fn nx_proof_kind(&self) -> Option<&NxProofKind> {
        self.inner.nx_proof_kind()
    }
}
