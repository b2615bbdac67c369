//! The DNSSEC trust anchor: the keys the chain of trust of `dns.dnssec`
//! starts from (the root zone's, as IANA publishes them, or the DNSKEY
//! records of a `--trust-anchor` file), chosen once for a run. It is one of
//! the run's settings, beside the resolver's, and imports nothing from the
//! rest of the agent, so the settings hold it without an import circle; the
//! DNSSEC probe (`probe::dnssec`) reads it.

use std::path::Path;
use std::sync::Arc;

use hickory_proto::dnssec::rdata::DNSKEY;
use hickory_proto::dnssec::{Algorithm, PublicKeyBuf, TrustAnchors};
use hickory_proto::rr::{LowerName, Name};

/// The keys the chain of trust starts from, each with its zone.
#[derive(Clone)]
pub struct Anchor {
    keys: TrustAnchors,
    /// The zones the keys belong to ("" for the root), longest first.
    zones: Vec<String>,
    /// Where the keys came from, for messages.
    pub source: String,
}

impl std::fmt::Debug for Anchor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Anchor")
            .field("zones", &self.zones)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl Anchor {
    /// The root zone's key-signing keys (KSK-2017 and KSK-2024), as IANA
    /// publishes them; hickory carries them.
    pub fn root() -> Self {
        Self {
            keys: TrustAnchors::default(),
            zones: vec![String::new()],
            source: "the root zone's keys (IANA)".to_owned(),
        }
    }

    /// Where validation starts, as the options say: nowhere when the check
    /// is off, else the keys in `file`, else the root's keys.
    pub fn chosen(check: bool, file: Option<&Path>) -> Result<Option<Arc<Self>>, String> {
        match (check, file) {
            (false, _) => Ok(None),
            (true, Some(path)) => Self::from_file(path).map(|a| Some(Arc::new(a))),
            (true, None) => Ok(Some(Arc::new(Self::root()))),
        }
    }

    /// DNSKEY records in zone-file syntax, one per line (`dig DNSKEY zone`
    /// output, or `keymgr zone dnskey`); `;` starts a comment.
    pub fn from_file(path: &Path) -> Result<Self, String> {
        let text = v6audit_model::input::read_text(path, v6audit_model::FileKind::TrustAnchor)
            .map_err(|e| e.to_string())?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses DNSKEY records as [`Self::from_file`] reads them; `origin` names the text in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, String> {
        let mut zones = Vec::new();
        let mut keys = TrustAnchors::empty();
        for (i, line) in text.lines().enumerate() {
            let record = line.split(';').next().unwrap_or("").trim();
            if record.is_empty() {
                continue;
            }
            let at = format!("{origin}:{}", i + 1);
            let mut tokens = record.split_whitespace();
            let owner = tokens.next().unwrap_or("");
            let rest: Vec<&str> = tokens.collect();
            let Some(kind) = rest.iter().position(|t| t.eq_ignore_ascii_case("DNSKEY")) else {
                return Err(format!(
                    "{at}: not a DNSKEY record (`<zone>. <ttl> IN DNSKEY <flags> 3 <algorithm> <key>`)"
                ));
            };
            let key = dnskey_rdata(&rest[kind + 1..]).map_err(|e| format!("{at}: {e}"))?;
            let name = owner_name(owner).map_err(|e| format!("{at}: {e}"))?;
            keys.insert_with_name(key.public_key(), LowerName::from(name));
            let zone = owner.trim_end_matches('.').to_ascii_lowercase();
            if !zones.contains(&zone) {
                zones.push(zone);
            }
        }
        if zones.is_empty() {
            return Err(format!(
                "{origin}: no DNSKEY record in the trust anchor file"
            ));
        }
        zones.sort_by_key(|z: &String| std::cmp::Reverse(z.len()));
        Ok(Self {
            keys,
            zones,
            source: origin.to_owned(),
        })
    }

    /// The anchor zone that `zone` is in or below (the closest one).
    pub(crate) fn zone_for(&self, zone: &str) -> Option<&str> {
        self.zones
            .iter()
            .find(|a| a.is_empty() || zone == a.as_str() || zone.ends_with(&format!(".{a}")))
            .map(String::as_str)
    }

    /// Whether `key` is one of the anchor's keys for `zone`.
    pub(crate) fn trusts(&self, key: &DNSKEY, zone: &Name) -> bool {
        self.keys
            .contains_with_name(key.public_key(), &LowerName::from(zone.clone()))
    }

    /// The zones listed, for messages.
    pub fn zones_text(&self) -> String {
        self.zones
            .iter()
            .map(|z| if z.is_empty() { "." } else { z.as_str() })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A DNSKEY's presentation form: flags, protocol (3), algorithm, key in base64.
fn dnskey_rdata(fields: &[&str]) -> Result<DNSKEY, String> {
    use base64::Engine as _;
    let [flags, protocol, algorithm, key @ ..] = fields else {
        return Err("a DNSKEY needs flags, protocol, algorithm and key".to_owned());
    };
    let flags: u16 = flags
        .parse()
        .map_err(|_| format!("DNSKEY flags `{flags}` is not a number"))?;
    if *protocol != "3" {
        return Err(format!("DNSKEY protocol `{protocol}` is not 3"));
    }
    let algorithm: u8 = algorithm
        .parse()
        .map_err(|_| format!("DNSKEY algorithm `{algorithm}` is not a number"))?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(key.concat())
        .map_err(|e| format!("the DNSKEY's key is not base64: {e}"))?;
    if bytes.is_empty() {
        return Err("the DNSKEY has no key".to_owned());
    }
    Ok(DNSKEY::with_flags(
        flags,
        PublicKeyBuf::new(bytes, Algorithm::from_u8(algorithm)),
    ))
}

/// An owner name as written in the file, with or without its final dot, as
/// a fully qualified name. The same as `resolver::fqdn`, kept here so this
/// module depends on nothing else in the agent (the resolver reads the
/// settings, and the settings hold the anchor).
fn owner_name(name: &str) -> Result<Name, String> {
    let text = if name.ends_with('.') {
        name.to_owned()
    } else {
        format!("{name}.")
    };
    Name::from_ascii(&text).map_err(|e| format!("`{name}` is not a valid DNS name: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_anchor_file_names_its_line_when_a_record_is_bad() {
        let err = Anchor::parse(
            "; keys\nlab.test. 3600 IN DNSKEY 257 3 13 !!!\n",
            "anchor.keys",
        )
        .unwrap_err();
        assert!(err.starts_with("anchor.keys:2: "), "{err}");
        let err = Anchor::parse("; nothing\n", "anchor.keys").unwrap_err();
        assert!(err.contains("no DNSKEY record"), "{err}");
    }

    #[test]
    fn the_root_anchor_covers_every_zone_and_a_lab_anchor_only_its_own() {
        assert_eq!(Anchor::root().zone_for("gov.vn"), Some(""));
        let key = "lab.test. 3600 IN DNSKEY 257 3 13 \
            mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==";
        let lab = Anchor::parse(key, "lab.keys").unwrap();
        assert_eq!(lab.zone_for("signed.lab.test"), Some("lab.test"));
        assert_eq!(lab.zone_for("lab.test"), Some("lab.test"));
        assert_eq!(lab.zone_for("gov.vn"), None);
    }
}
