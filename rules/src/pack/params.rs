//! The parameters a pack gives the rules that read them: the base pack's
//! first, each one the file sets checked (its rule takes it, its value is in
//! range), and every one required in the end.

use std::fmt;

use ipnet::IpNet;
use serde_saphyr::Spanned;

use super::builder::Builder;
use super::{Params, RuleFile};
use crate::spec::{Param, RuleId};

/// The parameters as they stand while a pack compiles: the base pack's,
/// then each one the file sets.
pub(super) struct ParamsSoFar {
    allow: Option<Vec<IpNet>>,
    allow_ula: Option<bool>,
    min_ns: Option<u32>,
    similarity: Option<f64>,
    expiry: Option<u32>,
    slower_ratio: Option<f64>,
    slower_extra: Option<u32>,
    max_addresses: Option<u32>,
}

impl ParamsSoFar {
    /// The base pack's parameters; none without a base.
    pub(super) fn from_base(base: Option<&Params>) -> Self {
        Self {
            allow: base.map(|p| p.allow.clone()),
            allow_ula: base.map(|p| p.allow_ula_for_internal),
            min_ns: base.map(|p| p.min_name_servers),
            similarity: base.map(|p| p.similarity_threshold),
            expiry: base.map(|p| p.expiry_warning_days),
            slower_ratio: base.map(|p| p.slower_ratio),
            slower_extra: base.map(|p| p.slower_extra_ms),
            max_addresses: base.map(|p| p.max_addresses),
        }
    }
}

impl Builder<'_> {
    /// Lays the parameters rule `id` sets over `params`: only the rule that
    /// reads one may set it, and only to a value in its range.
    pub(super) fn read_params(&mut self, id: RuleId, rule: &RuleFile, params: &mut ParamsSoFar) {
        if let Some(list) = &rule.allow
            && self.owns(id, Param::Allow, Some(list.referenced))
        {
            let field = format!("rules.{}.allow", id.spec().id);
            let mut nets = Vec::new();
            for item in &list.value {
                match parse_prefix(&item.value) {
                    Ok(net) => nets.push(net),
                    Err(m) => self.err(item, &field, m),
                }
            }
            params.allow = Some(nets);
        }
        if let Some(v) = &rule.allow_ula_for_internal
            && self.owns(id, Param::AllowUlaForInternal, Some(v.referenced))
        {
            params.allow_ula = Some(v.value);
        }
        self.bounded(
            id,
            Param::MinNameServers,
            rule.min_name_servers.as_ref(),
            |v| (1..=13).contains(&v),
            "must be 1 to 13",
            &mut params.min_ns,
        );
        self.bounded(
            id,
            Param::SimilarityThreshold,
            rule.similarity_threshold.as_ref(),
            |v| (0.0..=1.0).contains(&v),
            "must be between 0 and 1",
            &mut params.similarity,
        );
        self.bounded(
            id,
            Param::ExpiryWarningDays,
            rule.expiry_warning_days.as_ref(),
            |v| v <= 3650,
            "must be at most 3650",
            &mut params.expiry,
        );
        self.bounded(
            id,
            Param::SlowerRatio,
            rule.slower_ratio.as_ref(),
            |v| (1.0..=100.0).contains(&v),
            "must be between 1 and 100",
            &mut params.slower_ratio,
        );
        self.bounded(
            id,
            Param::SlowerExtraMs,
            rule.slower_extra_ms.as_ref(),
            |v| v <= 60_000,
            "must be at most 60000",
            &mut params.slower_extra,
        );
        self.bounded(
            id,
            Param::MaxAddresses,
            rule.max_addresses.as_ref(),
            |v| (1..=256).contains(&v),
            "must be 1 to 256",
            &mut params.max_addresses,
        );
    }

    /// Sets `slot` to the value rule `id` gives parameter `which`, when the
    /// rule takes it and the value is `valid`; an invalid value is pushed
    /// with what it `must` be.
    fn bounded<T: Copy + fmt::Display>(
        &mut self,
        id: RuleId,
        which: Param,
        value: Option<&Spanned<T>>,
        valid: impl Fn(T) -> bool,
        must: &str,
        slot: &mut Option<T>,
    ) {
        let Some(v) = value else { return };
        if !self.owns(id, which, Some(v.referenced)) {
            return;
        }
        if valid(v.value) {
            *slot = Some(v.value);
        } else {
            let field = format!("rules.{}.{}", id.spec().id, which.name());
            self.err(v, &field, format!("{must}, not {}", v.value));
        }
    }

    /// The parameters, when every one is set; each one missing is pushed.
    pub(super) fn finish_params(&mut self, params: ParamsSoFar) -> Option<Params> {
        let ParamsSoFar {
            allow,
            allow_ula,
            min_ns,
            similarity,
            expiry,
            slower_ratio,
            slower_extra,
            max_addresses,
        } = params;
        for (name, missing) in [
            ("dns.aaaa-global.allow", allow.is_none()),
            (
                "dns.aaaa-global.allow_ula_for_internal",
                allow_ula.is_none(),
            ),
            ("dns.ns-aaaa.min_name_servers", min_ns.is_none()),
            ("web.parity.similarity_threshold", similarity.is_none()),
            ("tls.v6-cert.expiry_warning_days", expiry.is_none()),
            ("net.v6-latency.slower_ratio", slower_ratio.is_none()),
            ("net.v6-latency.slower_extra_ms", slower_extra.is_none()),
            ("web.v6-reachable.max_addresses", max_addresses.is_none()),
        ] {
            if missing {
                self.err_nowhere(format!("rules.{name}"), "missing parameter".to_owned());
            }
        }
        let (
            Some(allow),
            Some(allow_ula),
            Some(min_ns),
            Some(similarity),
            Some(expiry),
            Some(slower_ratio),
            Some(slower_extra_ms),
            Some(max_addresses),
        ) = (
            allow,
            allow_ula,
            min_ns,
            similarity,
            expiry,
            slower_ratio,
            slower_extra,
            max_addresses,
        )
        else {
            return None;
        };
        Some(Params {
            allow,
            allow_ula_for_internal: allow_ula,
            min_name_servers: min_ns,
            similarity_threshold: similarity,
            expiry_warning_days: expiry,
            slower_ratio,
            slower_extra_ms,
            max_addresses,
        })
    }
}

/// An IPv6 or IPv4 prefix such as `2001:db8::/32` or `192.0.2.0/24`, or a
/// single address.
fn parse_prefix(text: &str) -> Result<IpNet, String> {
    if let Ok(net) = text.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    if let Ok(addr) = text.parse::<std::net::IpAddr>() {
        return Ok(IpNet::from(addr));
    }
    Err(format!(
        "`{text}` is not an IP prefix (write it like 2001:db8::/32, ::1/128 or 127.0.0.0/8)"
    ))
}
