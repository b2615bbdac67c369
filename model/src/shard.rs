//! Shards of an inventory: which portals one of N agents sharing it audits.
//!
//! A portal belongs to shard `K/N` when the 64-bit FNV-1a hash of its id's
//! UTF-8 bytes, modulo N, is K − 1. The hash has no seed, so the answer is the
//! same on every machine, in every run and in every version: four agents given
//! `1/4` … `4/4` of one inventory audit every portal exactly once, and a
//! portal stays with its agent while the inventory grows.

use std::fmt;
use std::str::FromStr;

/// The most shards an inventory can be cut into.
pub const MAX_SHARDS: u32 = 4096;

/// Shard `index` of `count` (both counted from 1, as `--shard 2/4` writes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shard {
    index: u32,
    count: u32,
}

impl Shard {
    /// Shard `index` of `count`; None unless 1 ≤ index ≤ count ≤ [`MAX_SHARDS`].
    pub fn new(index: u32, count: u32) -> Option<Self> {
        (index >= 1 && index <= count && count <= MAX_SHARDS).then_some(Self { index, count })
    }

    /// K, counted from 1.
    pub fn index(self) -> u32 {
        self.index
    }

    /// N.
    pub fn count(self) -> u32 {
        self.count
    }

    /// The shard (counted from 1) of `count` that a portal id belongs to.
    pub fn of(portal_id: &str, count: u32) -> u32 {
        let n = u64::from(count.max(1));
        // The remainder is below `count`, itself a u32.
        u32::try_from(fnv1a(portal_id.as_bytes()) % n).unwrap_or(0) + 1
    }

    /// Whether this shard audits the portal with this id.
    pub fn holds(self, portal_id: &str) -> bool {
        Self::of(portal_id, self.count) == self.index
    }

    /// Keeps only this shard's portals, in their order.
    pub fn retain(self, portals: &mut Vec<crate::Portal>) {
        portals.retain(|p| self.holds(&p.id));
    }
}

/// 64-bit FNV-1a: small, seedless and the same everywhere.
fn fnv1a(bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes
        .iter()
        .fold(OFFSET, |h, b| (h ^ u64::from(*b)).wrapping_mul(PRIME))
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            format!(
                "`{s}` is not a shard: write K/N, the K-th of N agents sharing the inventory (1 ≤ K ≤ N ≤ {MAX_SHARDS}), like 2/4"
            )
        };
        let (k, n) = s.trim().split_once('/').ok_or_else(bad)?;
        let k: u32 = k.trim().parse().map_err(|_| bad())?;
        let n: u32 = n.trim().parse().map_err(|_| bad())?;
        Self::new(k, n).ok_or_else(bad)
    }
}

impl serde::Serialize for Shard {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Shard {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_fnv1a_as_published() {
        // The reference values of the FNV test suite.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn a_portal_keeps_its_shard_on_every_machine() {
        // Fixed answers: a change here moves portals between agents.
        assert_eq!(Shard::of("dichvucong", 4), 2);
        let shards: Vec<u32> = ["a", "b", "c", "d", "e"]
            .iter()
            .map(|id| Shard::of(id, 4))
            .collect();
        assert_eq!(shards, [1, 2, 3, 4, 1]);
    }

    #[test]
    fn every_portal_is_in_exactly_one_shard() {
        let ids: Vec<String> = (0..10_000).map(|i| format!("portal-{i}")).collect();
        let shards: Vec<Shard> = (1..=4).map(|k| Shard::new(k, 4).unwrap()).collect();
        let mut sizes = [0usize; 4];
        for id in &ids {
            let holders: Vec<usize> = (0..4).filter(|&k| shards[k].holds(id)).collect();
            assert_eq!(holders.len(), 1, "{id} is in shards {holders:?}");
            sizes[holders[0]] += 1;
        }
        // Even enough: each shard within 5% of a quarter.
        for s in sizes {
            assert!((2375..=2625).contains(&s), "{sizes:?}");
        }
    }

    #[test]
    fn a_shard_is_written_k_slash_n() {
        assert_eq!("2/4".parse::<Shard>().unwrap(), Shard::new(2, 4).unwrap());
        assert_eq!("2/4".parse::<Shard>().unwrap().to_string(), "2/4");
        for bad in ["0/4", "5/4", "4", "a/b", "1/0", "1/5000", "-1/4", ""] {
            let e = bad.parse::<Shard>().unwrap_err();
            assert!(e.contains("is not a shard: write K/N"), "{bad}: {e}");
        }
    }
}
