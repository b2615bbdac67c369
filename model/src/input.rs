//! Reading the files a user names: inventories, rule packs, `agent.yaml` and
//! `collector.yaml`, PEM certificates and keys, trust anchors, token files and
//! reports. Only regular files are read (a FIFO is refused without being
//! opened for long enough to block, `/dev/zero` without a byte read), and
//! never more than the limit of their [`FileKind`], so one wrong path gives a
//! clear error naming the file and the limit instead of a process that hangs
//! or runs out of memory. Every file v6audit reads on a user's behalf goes
//! through [`read_bytes`] or [`read_text`].

use std::fmt;
use std::fs::{File, FileType, OpenOptions};
use std::io::Read;
use std::path::Path;

use crate::source::{MAX_YAML_BYTES, SourceError};

/// What a file is for. Each kind has its limit: well above any real file of
/// that kind, far below what could hurt a small machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileKind {
    /// An inventory: 64 MiB ([`MAX_YAML_BYTES`]); 100,000 portals take about 20 MB.
    Inventory,
    /// A rule pack: 64 MiB; the default pack is under 100 KB.
    RulePack,
    /// `agent.yaml`: 64 MiB.
    AgentConfig,
    /// `collector.yaml`: 64 MiB.
    CollectorConfig,
    /// `--ca-file` and the agent's `ca_file` settings, PEM certificates:
    /// 16 MiB; Mozilla's whole root store is about 0.2 MiB.
    CaFile,
    /// The collector's TLS certificate chain or private key (PEM): 16 MiB.
    TlsCertificate,
    /// `--trust-anchor`, DNSKEY records: 1 MiB; a zone's keys are a few KB.
    TrustAnchor,
    /// A JSON report (`check --baseline`, `plan --from`): 256 MiB; a report
    /// of 10,000 portals is about 60 MB.
    Report,
    /// A token file (`token_file`, `admin_token_file`,
    /// `viewer_tokens_file`, a systemd credential): 1 MiB, thousands of tokens.
    Token,
}

impl FileKind {
    /// The most bytes read from a file of this kind.
    pub const fn limit(self) -> u64 {
        match self {
            Self::Inventory | Self::RulePack | Self::AgentConfig | Self::CollectorConfig => {
                MAX_YAML_BYTES as u64
            }
            Self::CaFile | Self::TlsCertificate => 16 << 20,
            Self::TrustAnchor | Self::Token => 1 << 20,
            Self::Report => 256 << 20,
        }
    }

    /// What the file is, in an error message.
    pub const fn what(self) -> &'static str {
        match self {
            Self::Inventory => "inventory",
            Self::RulePack => "rule pack",
            Self::AgentConfig => "agent configuration",
            Self::CollectorConfig => "collector configuration",
            Self::CaFile => "CA file",
            Self::TlsCertificate => "TLS certificate or key",
            Self::TrustAnchor => "trust anchor",
            Self::Report => "report",
            Self::Token => "token file",
        }
    }
}

/// Why a file could not be read. Displayed as `PATH: reason`.
#[derive(Debug)]
#[non_exhaustive]
pub enum ReadError {
    /// The file could not be opened or read.
    Io {
        /// What the file is for.
        kind: FileKind,
        /// The file, as the user named it.
        path: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// Not a regular file: a directory, a device such as `/dev/zero`, a FIFO
    /// or a socket.
    NotAFile {
        /// What the file is for.
        kind: FileKind,
        /// The file, as the user named it.
        path: String,
        /// What it is instead, such as "a character device".
        found: &'static str,
    },
    /// Larger than the kind's limit.
    TooLarge {
        /// What the file is for.
        kind: FileKind,
        /// The file, as the user named it.
        path: String,
    },
    /// Not UTF-8 text.
    NotUtf8 {
        /// What the file is for.
        kind: FileKind,
        /// The file, as the user named it.
        path: String,
        /// The offset of the first byte that is not UTF-8.
        at: usize,
    },
}

impl ReadError {
    /// The file, as the user named it.
    pub fn path(&self) -> &str {
        match self {
            Self::Io { path, .. }
            | Self::NotAFile { path, .. }
            | Self::TooLarge { path, .. }
            | Self::NotUtf8 { path, .. } => path,
        }
    }

    /// What is wrong, without the file's name.
    pub fn reason(&self) -> String {
        match self {
            Self::Io { kind, source, .. } => {
                format!("cannot read the {}: {source}", kind.what())
            }
            Self::NotAFile { kind, found, .. } => {
                format!("the {} must be a regular file, not {found}", kind.what())
            }
            Self::TooLarge { kind, .. } => format!(
                "the {} is larger than {} ({} bytes), the most v6audit reads",
                kind.what(),
                human_size(kind.limit()),
                kind.limit()
            ),
            Self::NotUtf8 { kind, at, .. } => {
                format!("the {} is not UTF-8 text (byte {at} is not)", kind.what())
            }
        }
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path(), self.reason())
    }
}

impl std::error::Error for ReadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<ReadError> for SourceError {
    fn from(e: ReadError) -> Self {
        Self {
            file: e.path().to_owned(),
            line: 0,
            column: 0,
            field: None,
            message: e.reason(),
        }
    }
}

/// `64 MiB` for 64 << 20.
fn human_size(bytes: u64) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else if bytes >= 1 << 10 && bytes.is_multiple_of(1 << 10) {
        format!("{} KiB", bytes >> 10)
    } else {
        format!("{bytes} bytes")
    }
}

/// What a file that is not a regular file is, for the error; None for a
/// regular file.
fn not_regular(t: &FileType) -> Option<&'static str> {
    if t.is_file() {
        return None;
    }
    if t.is_dir() {
        return Some("a directory");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return Some("a FIFO (named pipe)");
        }
        if t.is_char_device() {
            return Some("a character device");
        }
        if t.is_block_device() {
            return Some("a block device");
        }
        if t.is_socket() {
            return Some("a socket");
        }
    }
    Some("a special file")
}

fn open(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    // O_NONBLOCK: opening a FIFO returns at once instead of waiting for a
    // writer (on a regular file the flag changes nothing). libc has the
    // value for each platform.
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    options.open(path)
}

/// Reads a file a user named, as bytes: a regular file (symbolic links
/// followed) of at most `kind.limit()` bytes.
pub fn read_bytes(path: &Path, kind: FileKind) -> Result<Vec<u8>, ReadError> {
    let (file, size) = open_regular(path, kind)?;
    let limit = kind.limit();
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| ReadError::Io {
            kind,
            path: path.display().to_string(),
            source,
        })?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge {
            kind,
            path: path.display().to_string(),
        });
    }
    Ok(bytes)
}

/// Opens a file a user named to be read as UTF-8 text as it is parsed, with
/// the checks of [`read_text`]: a regular file of at most `kind.limit()`
/// bytes, never more than one byte past the limit read from it (a file that
/// grows is cut short, which its parser reports), and an error from the
/// reader at the first byte that is not UTF-8 (so no decoder downstream
/// guesses another encoding, such as UTF-16 from a byte-order mark).
pub fn open_text(
    path: &Path,
    kind: FileKind,
) -> Result<Utf8Reader<std::io::Take<File>>, ReadError> {
    let (file, _) = open_regular(path, kind)?;
    Ok(Utf8Reader {
        inner: file.take(kind.limit() + 1),
        pending: Vec::new(),
    })
}

/// A reader that passes UTF-8 on and fails at the first byte that is not.
#[derive(Debug)]
pub struct Utf8Reader<R> {
    inner: R,
    /// The start of a character the last read cut in two (at most 3 bytes).
    pending: Vec<u8>,
}

impl Utf8Reader<std::io::Take<File>> {
    /// The metadata of the file open (fstat): what it is, whatever its
    /// name now points at.
    pub fn metadata(&self) -> std::io::Result<std::fs::Metadata> {
        self.inner.get_ref().metadata()
    }
}

impl<R: Read> Read for Utf8Reader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let not_utf8 =
            || std::io::Error::new(std::io::ErrorKind::InvalidData, "the text is not UTF-8");
        let n = self.inner.read(buf)?;
        if n == 0 {
            return if self.pending.is_empty() {
                Ok(0)
            } else {
                Err(not_utf8())
            };
        }
        // The cut character's start, then what was read: checked together.
        let mut joined = std::mem::take(&mut self.pending);
        joined.extend_from_slice(&buf[..n]);
        // (Each read is checked whole: a parser reads in blocks, so the
        // copy costs little against the parse.)
        let whole = match std::str::from_utf8(&joined) {
            Ok(_) => joined.len(),
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(_) => return Err(not_utf8()),
        };
        // Everything read is handed on; a character cut at its end is
        // remembered, to be checked with the bytes that complete it.
        self.pending = joined[whole..].to_vec();
        Ok(n)
    }
}

/// Opens a regular file of at most `kind.limit()` bytes; its size.
fn open_regular(path: &Path, kind: FileKind) -> Result<(File, u64), ReadError> {
    let name = || path.display().to_string();
    let io = |source: std::io::Error| ReadError::Io {
        kind,
        path: name(),
        source,
    };
    let refuse = |found: &'static str| ReadError::NotAFile {
        kind,
        path: name(),
        found,
    };
    let too_large = || ReadError::TooLarge { kind, path: name() };
    // Looked at before it is opened: a FIFO is never opened, a device never read.
    let meta = std::fs::metadata(path).map_err(io)?;
    if let Some(found) = not_regular(&meta.file_type()) {
        return Err(refuse(found));
    }
    let file = open(path).map_err(io)?;
    // And the handle itself, in case the name was switched in between.
    let meta = file.metadata().map_err(io)?;
    if let Some(found) = not_regular(&meta.file_type()) {
        return Err(refuse(found));
    }
    if meta.len() > kind.limit() {
        return Err(too_large());
    }
    // The size is at most the limit here; the file may still grow while it
    // is read, so each reader bounds the read itself too.
    Ok((file, meta.len()))
}

/// Reads a file a user named, as UTF-8 text (see [`read_bytes`]).
pub fn read_text(path: &Path, kind: FileKind) -> Result<String, ReadError> {
    let bytes = read_bytes(path, kind)?;
    String::from_utf8(bytes).map_err(|e| ReadError::NotUtf8 {
        kind,
        path: path.display().to_string(),
        at: e.utf8_error().valid_up_to(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_regular_file_is_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inv.yaml");
        std::fs::write(&path, "schema: x\n").unwrap();
        assert_eq!(
            read_text(&path, FileKind::Inventory).unwrap(),
            "schema: x\n"
        );
    }

    /// Regression (a hostile tester): the streamed inventory reader
    /// decoded UTF-16 from a byte-order mark, and replaced bytes that are
    /// not UTF-8 after a UTF-8 one, so `audit` read files `validate`
    /// refused. The reader now fails at the first byte that is not UTF-8,
    /// however the reads cut the characters.
    #[test]
    fn a_text_reader_fails_at_the_first_byte_that_is_not_utf8() {
        let dir = tempfile::tempdir().unwrap();
        let read_all = |bytes: &[u8], piece: usize| {
            let path = dir.path().join("t.yaml");
            std::fs::write(&path, bytes).unwrap();
            let mut r = open_text(&path, FileKind::Inventory).unwrap();
            let mut out = Vec::new();
            let mut buf = vec![0u8; piece];
            loop {
                match r.read(&mut buf) {
                    Ok(0) => return Ok(out),
                    Ok(n) => out.extend_from_slice(&buf[..n]),
                    Err(e) => return Err(e.kind()),
                }
            }
        };
        let text = "\u{feff}schema: tên cổng 🇻🇳\n".as_bytes();
        for piece in [1, 2, 3, 5, 4096] {
            assert_eq!(read_all(text, piece).as_deref(), Ok(text), "{piece}");
            for bad in [
                &b"\xff\xfes\x00c\x00"[..],
                b"\xfe\xff\x00s",
                b"\xef\xbb\xbfname: x\xffy\n",
                b"ok \xe1\xbb",
                b"cut \xf0\x9f\x87 here",
            ] {
                assert_eq!(
                    read_all(bad, piece),
                    Err(std::io::ErrorKind::InvalidData),
                    "{bad:?} by {piece}"
                );
            }
        }
    }

    #[test]
    fn dev_zero_is_refused_without_reading() {
        let e = read_bytes(Path::new("/dev/zero"), FileKind::CaFile).unwrap_err();
        assert_eq!(
            e.to_string(),
            "/dev/zero: the CA file must be a regular file, not a character device"
        );
    }

    #[test]
    fn a_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let e = read_bytes(dir.path(), FileKind::RulePack).unwrap_err();
        assert!(
            e.to_string()
                .ends_with(": the rule pack must be a regular file, not a directory"),
            "{e}"
        );
    }

    #[test]
    fn a_file_over_the_limit_is_refused_with_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        let file = File::create(&path).unwrap();
        // Sparse: a size over the limit without writing a megabyte.
        file.set_len(FileKind::TrustAnchor.limit() + 1).unwrap();
        let e = read_bytes(&path, FileKind::TrustAnchor).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "{}: the trust anchor is larger than 1 MiB (1048576 bytes), the most v6audit reads",
                path.display()
            )
        );
    }

    #[test]
    fn text_that_is_not_utf8_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inv.yaml");
        std::fs::write(&path, b"ab\xffcd").unwrap();
        let e = read_text(&path, FileKind::Inventory).unwrap_err();
        assert!(
            e.to_string().ends_with("is not UTF-8 text (byte 2 is not)"),
            "{e}"
        );
    }

    #[test]
    fn a_missing_file_names_the_file() {
        let e = read_text(Path::new("/nonexistent/inv.yaml"), FileKind::Inventory).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("/nonexistent/inv.yaml: cannot read the inventory: "),
            "{e}"
        );
    }
}
