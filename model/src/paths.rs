//! Where v6audit keeps state when the configuration does not say: systemd's
//! `STATE_DIRECTORY`, `/var/lib/v6audit` for root (or when it exists), else
//! the user's state directory; and the secrets systemd hands a service as
//! credentials (`LoadCredential=`).

use std::path::{Path, PathBuf};

/// Where state goes when the configuration does not say: `$STATE_DIRECTORY` (the first of
/// several), `/var/lib/v6audit` for root or when it exists, else `v6audit` under
/// `$XDG_STATE_HOME` or `~/.local/state`.
pub fn default_state_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("STATE_DIRECTORY") {
        // systemd may give several, separated by ':'.
        let first = dir
            .to_string_lossy()
            .split(':')
            .next()
            .unwrap_or_default()
            .to_owned();
        return PathBuf::from(first);
    }
    if std::env::var("USER").is_ok_and(|u| u == "root") || Path::new("/var/lib/v6audit").is_dir() {
        return PathBuf::from("/var/lib/v6audit");
    }
    std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("v6audit")
}

/// A secret systemd passed to this service as a credential (`LoadCredential=`
/// puts it in `$CREDENTIALS_DIRECTORY`), trimmed; `None` when there is no
/// such credential or it is empty.
pub fn systemd_credential(id: &str) -> Option<String> {
    let dir = std::env::var_os("CREDENTIALS_DIRECTORY")?;
    let text = crate::input::read_text(&Path::new(&dir).join(id), crate::FileKind::Token).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}
