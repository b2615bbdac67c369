//! SMTP probe: for each mail exchanger with AAAA, a session over IPv6 and,
//! to compare, over IPv4: connect, read the 220 greeting, EHLO (noting
//! whether STARTTLS is offered), QUIT. Nothing is sent beyond that. Every
//! read is bounded by the step timeout, [`MAX_REPLY`] bytes and
//! [`MAX_LINES`] lines; at most [`MAX_SERVERS`] exchangers are asked.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use v6audit_model::{Family, MxObservation, SmtpOutcome, SmtpProbe, TcpOutcome};

use crate::probe::Context;

pub const MAX_SERVERS: usize = 3;
/// Bytes read for one reply (greeting or EHLO answer).
pub const MAX_REPLY: u64 = 4096;
pub const MAX_LINES: usize = 32;

/// The sessions for a domain's mail exchangers that have AAAA.
pub async fn check(
    ctx: &Context,
    mx: &MxObservation,
    internal: bool,
    deadline: tokio::time::Instant,
) -> Vec<SmtpProbe> {
    let mut targets: Vec<(String, IpAddr)> = Vec::new();
    for m in mx
        .exchanges
        .iter()
        .filter(|m| !m.aaaa.is_empty() && m.host != ".")
        .take(MAX_SERVERS)
    {
        targets.push((m.host.clone(), IpAddr::V6(m.aaaa[0])));
        if let Some(a) = m.a.first() {
            targets.push((m.host.clone(), IpAddr::V4(*a)));
        }
    }
    futures_util::future::join_all(
        targets
            .into_iter()
            .map(|(host, ip)| session(ctx, host, ip, internal, deadline)),
    )
    .await
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
    let mut probe = SmtpProbe {
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
    };
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
    probe.banner_host = first
        .get(4..)
        .and_then(|rest| rest.split_whitespace().next())
        .map(|h| h.trim_end_matches('.').to_ascii_lowercase())
        .filter(|h| !h.is_empty());
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
    probe.starttls = ehlo.iter().any(|l| {
        l.get(4..)
            .is_some_and(|k| k.trim().eq_ignore_ascii_case("STARTTLS"))
    });
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
}
