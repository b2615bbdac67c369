//! SMTP probe: for each mail exchanger with AAAA, a session over IPv6 and,
//! to compare, over IPv4: connect, read the 220 greeting, EHLO (noting
//! whether STARTTLS is offered), QUIT. Nothing is sent beyond that. Every
//! read is bounded by the step timeout, [`MAX_REPLY`] bytes and
//! [`MAX_LINES`] lines; at most [`MAX_SERVERS`] exchangers are asked, each
//! once a run however many portals name it ([`SessionCache`]).

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use v6audit_model::{Family, MxObservation, SmtpOutcome, SmtpProbe, TcpOutcome};

use crate::probe::Context;
use crate::probe::shared::Shared;

/// Mail exchangers with AAAA asked for one portal.
pub const MAX_SERVERS: usize = 3;
/// Bytes read for one reply (greeting or EHLO answer).
pub const MAX_REPLY: u64 = 4096;
/// Lines read for one reply.
pub const MAX_LINES: usize = 32;

/// The sessions for a domain's mail exchangers that have AAAA.
pub async fn check(
    ctx: &Context,
    mx: &MxObservation,
    internal: bool,
    deadline: tokio::time::Instant,
) -> Vec<SmtpProbe> {
    let mut targets: Vec<(String, IpAddr)> = Vec::new();
    // A mail server's first AAAA that is IPv6 on the wire (a mapped one is
    // IPv4, and says nothing of mail over IPv6), and its first A.
    let v6 = |m: &&v6audit_model::MailExchange| {
        m.aaaa
            .iter()
            .map(|a| IpAddr::V6(*a))
            .find(|a| Family::of(a) == Family::V6)
    };
    for m in mx
        .exchanges
        .iter()
        .filter(|m| m.host != "." && v6(m).is_some())
        .take(MAX_SERVERS)
    {
        targets.extend(v6(&m).map(|ip| (m.host.clone(), ip)));
        if let Some(a) = m.a.first() {
            targets.push((m.host.clone(), IpAddr::V4(*a)));
        }
    }
    futures_util::future::join_all(
        targets
            .into_iter()
            .map(|(host, ip)| shared_session(ctx, host, ip, internal, deadline)),
    )
    .await
}

/// A mail server's name and address, and whether the portal asking is
/// internal (the contact policy differs).
pub type SessionKey = (String, IpAddr, bool);

/// The sessions of one run, by mail server, address and contact policy: the
/// portals of a zone share its mail servers, so each server is asked once
/// a run, even by portals probed at the same moment.
pub type SessionCache = Shared<SessionKey, SmtpProbe>;

/// One session with a mail server, shared by every portal that names it.
/// The session runs on its own steps' timeouts, not on the budget of the
/// portal that happened to ask first, so that one portal's spent budget is
/// not another's result; a portal whose budget ends first gets `error` for
/// that fact, not the server's fault.
async fn shared_session(
    ctx: &Context,
    host: String,
    ip: IpAddr,
    internal: bool,
    deadline: tokio::time::Instant,
) -> SmtpProbe {
    // Connect, greeting and EHLO: three steps at most.
    let own = tokio::time::Instant::now() + ctx.settings.timeout.saturating_mul(3);
    let key = (host.clone(), ip, internal);
    let shared = ctx
        .mail
        .within(
            key,
            || session(ctx, host.clone(), ip, internal, own),
            deadline,
        )
        .await;
    match shared {
        Some(probe) => probe,
        None => SmtpProbe {
            outcome: SmtpOutcome::Error,
            error: Some(
                "the portal's time budget ran out before the session with its mail server ended"
                    .to_owned(),
            ),
            ..not_yet(host, ip, ctx.settings.smtp_port)
        },
    }
}

/// Reads one reply: lines until one whose code is followed by a space.
async fn reply<R: tokio::io::AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
    by: tokio::time::Instant,
) -> Result<Vec<String>, SmtpOutcome> {
    let mut lines = Vec::new();
    let mut limited = reader.take(MAX_REPLY);
    loop {
        let mut line = String::new();
        match tokio::time::timeout_at(by, limited.read_line(&mut line)).await {
            Err(_) => return Err(SmtpOutcome::Timeout),
            Ok(Err(_)) | Ok(Ok(0)) => return Err(SmtpOutcome::NoGreeting),
            Ok(Ok(_)) => {}
        }
        let line = line.trim_end().to_owned();
        let last = line.as_bytes().get(3).is_none_or(|b| *b == b' ');
        lines.push(line);
        if last {
            return Ok(lines);
        }
        if lines.len() >= MAX_LINES {
            return Err(SmtpOutcome::NoGreeting);
        }
    }
}

/// The host a greeting names (`220 mail.example.gov.vn ESMTP`): lower
/// case, without a final dot; None when it names none.
fn greeting_host(first: &str) -> Option<String> {
    first
        .get(4..)
        .and_then(|rest| rest.split_whitespace().next())
        .map(|h| h.trim_end_matches('.').to_ascii_lowercase())
        .filter(|h| !h.is_empty())
}

/// Whether an EHLO answer offers STARTTLS (RFC 3207): a line whose
/// keyword, after the code and its separator, is `STARTTLS`.
fn offers_starttls(ehlo: &[String]) -> bool {
    ehlo.iter().any(|l| {
        l.get(4..)
            .is_some_and(|k| k.trim().eq_ignore_ascii_case("STARTTLS"))
    })
}

/// A session with `host` at `ip` before anything happened: `error` until
/// an outcome is known.
fn not_yet(host: String, ip: IpAddr, port: u16) -> SmtpProbe {
    SmtpProbe {
        host,
        family: Family::of(&ip),
        addr: ip,
        port,
        outcome: SmtpOutcome::Error,
        banner: None,
        banner_host: None,
        starttls: false,
        ms: 0,
        error: None,
    }
}

async fn session(
    ctx: &Context,
    host: String,
    ip: IpAddr,
    internal: bool,
    deadline: tokio::time::Instant,
) -> SmtpProbe {
    let port = ctx.settings.smtp_port;
    let addr = SocketAddr::new(ip, port);
    let start = Instant::now();
    let mut probe = not_yet(host, ip, port);
    if let Some(why) = ctx.settings.contact.refuses(ip, internal) {
        probe.error = Some(why);
        return probe;
    }
    let (stream, tcp) =
        crate::probe::tcp::connect(addr, ctx.step_deadline(deadline), &ctx.reach).await;
    let Some(stream) = stream else {
        probe.outcome = match tcp.outcome {
            TcpOutcome::Refused => SmtpOutcome::Refused,
            TcpOutcome::Timeout => SmtpOutcome::Timeout,
            TcpOutcome::Unreachable | TcpOutcome::NoRoute => SmtpOutcome::Unreachable,
            TcpOutcome::NoVantage => SmtpOutcome::NoVantage,
            _ => SmtpOutcome::Error,
        };
        probe.error = tcp.error;
        probe.ms = tcp.ms;
        return probe;
    };
    let local = stream.local_addr().ok();
    let result = converse(stream, local, ctx.step_deadline(deadline), &mut probe).await;
    probe.ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
    match result {
        Ok(()) => probe.outcome = SmtpOutcome::Ok,
        Err((outcome, error)) => {
            probe.outcome = outcome;
            probe.error = Some(error);
        }
    }
    probe
}

async fn converse(
    stream: TcpStream,
    local: Option<SocketAddr>,
    by: tokio::time::Instant,
    probe: &mut SmtpProbe,
) -> Result<(), (SmtpOutcome, String)> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let greeting = reply(&mut reader, by)
        .await
        .map_err(|o| (o, "no greeting".to_owned()))?;
    let first = greeting.first().cloned().unwrap_or_default();
    probe.banner = Some(first.chars().take(200).collect());
    if !first.starts_with("220") {
        return Err((
            SmtpOutcome::NoGreeting,
            format!(
                "the greeting is not 220: {}",
                probe.banner.clone().unwrap_or_default()
            ),
        ));
    }
    probe.banner_host = greeting_host(&first);
    // Without a name of our own, the address literal (RFC 5321, 4.1.3).
    let me = match local.map(|l| l.ip()) {
        Some(IpAddr::V6(a)) => format!("[IPv6:{a}]"),
        Some(IpAddr::V4(a)) => format!("[{a}]"),
        None => "[127.0.0.1]".to_owned(),
    };
    let ehlo_line = format!("EHLO {me}\r\n");
    if !matches!(
        tokio::time::timeout_at(by, write.write_all(ehlo_line.as_bytes())).await,
        Ok(Ok(()))
    ) {
        return Err((SmtpOutcome::EhloRefused, "cannot send EHLO".to_owned()));
    }
    let ehlo = reply(&mut reader, by).await.map_err(|o| {
        (
            if o == SmtpOutcome::Timeout {
                o
            } else {
                SmtpOutcome::EhloRefused
            },
            "no answer to EHLO".to_owned(),
        )
    })?;
    if !ehlo.first().is_some_and(|l| l.starts_with("250")) {
        return Err((
            SmtpOutcome::EhloRefused,
            format!(
                "EHLO answered: {}",
                ehlo.first().cloned().unwrap_or_default()
            ),
        ));
    }
    probe.starttls = offers_starttls(&ehlo);
    let _ = tokio::time::timeout_at(by, write.write_all(b"QUIT\r\n")).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_reply_ends_at_the_line_whose_code_is_followed_by_a_space() {
        let text: &[u8] = b"250-mail.example\r\n250-SIZE 100\r\n250 STARTTLS\r\nextra";
        let mut r = BufReader::new(text);
        let by = tokio::time::Instant::now() + std::time::Duration::from_secs(1);
        let lines = reply(&mut r, by).await.unwrap();
        assert_eq!(lines, ["250-mail.example", "250-SIZE 100", "250 STARTTLS"]);
        // Endless continuation lines are cut off.
        let endless = "250-x\r\n".repeat(100);
        let mut r = BufReader::new(endless.as_bytes());
        assert!(reply(&mut r, by).await.is_err());
    }

    /// Regression (issue "Speed and scale", 2): the two SMTP sessions with a
    /// zone's mail server were made again for every portal of the zone. A
    /// run asks each server once, however many portals name it, even at
    /// the same moment.
    #[tokio::test]
    async fn the_portals_of_a_zone_share_one_session_with_its_mail_server() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let listener = tokio::net::TcpListener::bind("[::1]:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let sessions = Arc::new(AtomicUsize::new(0));
        let counted = sessions.clone();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let _ = s.write_all(b"220 mail.example.gov.vn ESMTP\r\n").await;
                    let mut buf = [0u8; 512];
                    let _ = s.read(&mut buf).await;
                    let _ = s
                        .write_all(b"250-mail.example.gov.vn\r\n250 STARTTLS\r\n")
                        .await;
                    let _ = s.read(&mut buf).await;
                });
            }
        });
        let settings = crate::settings::Settings {
            smtp_port: port,
            contact: v6audit_rules::ContactPolicy {
                allow: vec!["::1/128".parse().unwrap()],
                private_for_internal: true,
            },
            ..crate::settings::Settings::default()
        };
        let ctx = crate::probe::loopback_context(settings);
        let mx = MxObservation {
            outcome: v6audit_model::DnsOutcome::Ok,
            error: None,
            exchanges: vec![v6audit_model::MailExchange {
                preference: 10,
                host: "mail.example.gov.vn".into(),
                a: Vec::new(),
                aaaa: vec!["::1".parse().unwrap()],
                error: None,
            }],
        };
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        // Eight portals of the zone at once, then one more.
        let at_once =
            futures_util::future::join_all((0..8).map(|_| check(&ctx, &mx, false, deadline))).await;
        let later = check(&ctx, &mx, false, deadline).await;
        for probes in at_once.iter().chain([&later]) {
            assert_eq!(probes.len(), 1);
            assert_eq!(probes[0].outcome, SmtpOutcome::Ok, "{probes:?}");
            assert!(probes[0].starttls);
        }
        assert_eq!(sessions.load(Ordering::SeqCst), 1);
        // A new run asks again.
        ctx.mail.clear();
        check(&ctx, &mx, false, deadline).await;
        assert_eq!(sessions.load(Ordering::SeqCst), 2);
    }
}

/// Fuzzing what a mail server sends (proptest, stable toolchain): any bytes
/// as a reply, and replies built from their grammar. The reader returns
/// within its bounds, and a well-formed reply reads back line for line.
/// Long run: `PROPTEST_CASES=200000 cargo test --release -p v6audit-agent --lib fuzz`.
#[cfg(test)]
mod fuzz {
    use std::time::Duration;

    use proptest::prelude::*;

    use super::*;

    /// Cases per target: `PROPTEST_CASES` when it is set, else `default`.
    fn config(default: u32) -> ProptestConfig {
        let mut config = ProptestConfig::default();
        if std::env::var_os("PROPTEST_CASES").is_none() {
            config.cases = default;
        }
        config
    }

    /// Reads one reply from `bytes`; how long it took.
    fn read(bytes: &[u8]) -> (Result<Vec<String>, SmtpOutcome>, Duration) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut reader = BufReader::new(bytes);
            let by = tokio::time::Instant::now() + Duration::from_secs(5);
            let start = Instant::now();
            let out = reply(&mut reader, by).await;
            (out, start.elapsed())
        })
    }

    /// What a reply read promises: within the bounds, and ending at the
    /// line whose code is followed by a space (or that is too short to say).
    fn check(lines: &[String]) -> Result<(), TestCaseError> {
        prop_assert!(!lines.is_empty() && lines.len() <= MAX_LINES);
        let bytes: usize = lines.iter().map(String::len).sum();
        prop_assert!(bytes as u64 <= MAX_REPLY, "{bytes} bytes read");
        let (last, rest) = lines.split_last().unwrap();
        prop_assert!(
            last.as_bytes().get(3).is_none_or(|b| *b == b' '),
            "{last:?}"
        );
        for l in rest {
            prop_assert!(l.as_bytes().get(3).is_some_and(|b| *b != b' '), "{l:?}");
        }
        for l in lines {
            prop_assert!(!l.contains('\n') && l.trim_end() == l, "{l:?}");
        }
        Ok(())
    }

    /// A code, continuation lines and a last line, each ended by CRLF or
    /// LF; then whatever follows the reply on the wire.
    fn grammar_reply() -> impl Strategy<Value = (Vec<String>, String, Vec<u8>)> {
        (
            prop_oneof![
                prop::sample::select(vec!["220", "250", "421", "554"]).prop_map(str::to_owned),
                "[0-9]{3}",
            ],
            prop::collection::vec("[ -~]{0,60}", 0..40),
            "[ -~]{0,60}",
            any::<bool>(),
            prop::collection::vec(any::<u8>(), 0..64),
        )
            .prop_map(|(code, more, last, crlf, after)| {
                let end = if crlf { "\r\n" } else { "\n" };
                let mut lines: Vec<String> = more.iter().map(|t| format!("{code}-{t}")).collect();
                lines.push(format!("{code} {last}"));
                let mut wire = String::new();
                for l in &lines {
                    wire.push_str(l);
                    wire.push_str(end);
                }
                (lines, wire, after)
            })
    }

    proptest! {
        #![proptest_config(config(256))]

        /// Any bytes at all (up to 8 KiB, twice what a reply may hold).
        #[test]
        fn smtp_reply_survives_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..8192)) {
            let (out, took) = read(&bytes);
            prop_assert!(took < Duration::from_secs(1), "{took:?}");
            if let Ok(lines) = out {
                check(&lines)?;
            }
        }

        /// A reply from the grammar reads back line for line (without the
        /// line ends and trailing blanks), and nothing after it is taken;
        /// one with more lines than the agent reads is refused.
        #[test]
        fn smtp_reply_round_trips((lines, wire, after) in grammar_reply()) {
            let mut bytes = wire.into_bytes();
            bytes.extend_from_slice(&after);
            let (out, _) = read(&bytes);
            if lines.len() > MAX_LINES {
                prop_assert_eq!(out, Err::<Vec<String>, _>(SmtpOutcome::NoGreeting));
            } else {
                let want: Vec<String> = lines.iter().map(|l| l.trim_end().to_owned()).collect();
                let got = out.map_err(|o| TestCaseError::fail(format!("{o:?} for {want:?}")))?;
                check(&got)?;
                prop_assert_eq!(got, want);
            }
        }

        /// The greeting's host: whatever the line, a name without blanks,
        /// in lower case, without a final dot; a greeting naming a host
        /// gives that host.
        #[test]
        fn smtp_greeting_host(
            line in "\\PC{0,80}",
            labels in prop::collection::vec("[A-Za-z0-9-]{1,12}", 1..5),
            dot in any::<bool>(),
            code in prop::sample::select(vec!["220 ", "220-"]),
            rest in "( [ -~]{0,30})?",
        ) {
            if let Some(h) = greeting_host(&line) {
                prop_assert!(!h.is_empty() && !h.ends_with('.') && h == h.to_ascii_lowercase(), "{h:?}");
                prop_assert!(!h.chars().any(char::is_whitespace), "{h:?}");
            }
            let host = labels.join(".");
            let greeting = format!("{code}{host}{}{rest}", if dot { "." } else { "" });
            prop_assert_eq!(greeting_host(&greeting), Some(host.to_ascii_lowercase()));
        }

        /// STARTTLS is offered exactly when a line's keyword is STARTTLS,
        /// in any case, on a continuation or the last line.
        #[test]
        fn smtp_starttls_is_found_as_a_keyword(
            keywords in prop::collection::vec(
                prop::sample::select(vec![
                    "SIZE 10240000", "PIPELINING", "8BITMIME", "starttls", "STARTTLS", "StartTLS",
                    "STARTTLSX", "X-STARTTLS", "STARTTLS now", "AUTH PLAIN", "",
                ]),
                0..8,
            ),
        ) {
            let mut lines = vec!["250-mail.example.gov.vn".to_owned()];
            for (i, k) in keywords.iter().enumerate() {
                let sep = if i + 1 == keywords.len() { ' ' } else { '-' };
                lines.push(format!("250{sep}{k}"));
            }
            let want = keywords.iter().any(|k| k.eq_ignore_ascii_case("STARTTLS"));
            prop_assert_eq!(offers_starttls(&lines), want);
        }
    }
}
