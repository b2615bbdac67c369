//! The languages v6audit speaks to users: every message, remediation and
//! heading exists in English and Vietnamese.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A language of what users read: messages, remediations, headings, labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// English, the default.
    #[default]
    En,
    /// Vietnamese.
    Vi,
}

impl Lang {
    /// Every language, English first.
    pub const ALL: [Self; 2] = [Self::En, Self::Vi];

    /// `en` or `vi`, as `--lang` takes it.
    pub fn code(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Vi => "vi",
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Lang {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "en" | "english" => Ok(Self::En),
            "vi" | "vietnamese" | "tiếng việt" => Ok(Self::Vi),
            other => Err(format!("unknown language `{other}` (expected en or vi)")),
        }
    }
}
