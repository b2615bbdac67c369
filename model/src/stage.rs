//! The migration stage (0..=4, DESIGN.md), its stable name and its label in
//! each language: the one vocabulary for stages that every output and the
//! dashboard share. Its own module, below the inventory and the report that
//! both name it.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::lang::Lang;

/// A migration stage, 0..=4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub enum Stage {
    /// No AAAA record.
    Ipv4Only = 0,
    /// AAAA published but not working: worse than none, since clients stall.
    Broken = 1,
    /// Reachable over IPv6 (TCP, HTTP and TLS work).
    Reachable = 2,
    /// Parity with IPv4, valid TLS, name servers on IPv6.
    DualStack = 3,
    /// Redirects, sub-resources and mail on IPv6 too.
    Ipv6Complete = 4,
}

impl Stage {
    /// Every stage, 0 to 4.
    pub const ALL: [Self; 5] = [
        Self::Ipv4Only,
        Self::Broken,
        Self::Reachable,
        Self::DualStack,
        Self::Ipv6Complete,
    ];

    /// The stable name of the stage (DESIGN.md).
    pub fn name(self) -> &'static str {
        match self {
            Self::Ipv4Only => "ipv4-only",
            Self::Broken => "broken",
            Self::Reachable => "reachable",
            Self::DualStack => "dual-stack",
            Self::Ipv6Complete => "ipv6-complete",
        }
    }

    /// The stage's number, 0 to 4.
    pub fn number(self) -> u8 {
        self as u8
    }

    /// The stage in a few words, for a table cell: its stable name in
    /// English, its translation in Vietnamese.
    pub fn label(self, lang: Lang) -> &'static str {
        match lang {
            Lang::En => self.name(),
            Lang::Vi => match self {
                Self::Ipv4Only => "chỉ IPv4",
                Self::Broken => "IPv6 lỗi",
                Self::Reachable => "truy cập được",
                Self::DualStack => "song song",
                Self::Ipv6Complete => "IPv6 đầy đủ",
            },
        }
    }

    /// "1 broken", "1 IPv6 lỗi": the number and the label.
    pub fn numbered(self, lang: Lang) -> String {
        format!("{} {}", self.number(), self.label(lang))
    }
}

impl TryFrom<u8> for Stage {
    type Error = String;
    fn try_from(n: u8) -> Result<Self, Self::Error> {
        Self::ALL
            .get(usize::from(n))
            .copied()
            .ok_or_else(|| format!("stage must be 0 to 4, not {n}"))
    }
}

impl From<Stage> for u8 {
    fn from(s: Stage) -> Self {
        s.number()
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.number(), self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::Category;

    #[test]
    fn every_stage_and_category_has_a_vietnamese_label_of_its_own() {
        for s in Stage::ALL {
            assert_ne!(s.label(Lang::Vi), s.label(Lang::En), "{s}");
        }
        for c in Category::ALL {
            assert_ne!(c.label(Lang::Vi), c.label(Lang::En), "{c}");
        }
        assert_eq!(Stage::Broken.numbered(Lang::Vi), "1 IPv6 lỗi");
    }
}
