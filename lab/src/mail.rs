//! The lab's mail server: enough SMTP for the agent's probe (a 220
//! greeting, EHLO offering STARTTLS, QUIT), on the same port over IPv4 and
//! IPv6, for `mail.lab.test`. Each session is bounded in time and lines.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// A session lasts at most this long.
const SESSION: Duration = Duration::from_secs(10);
/// And reads at most this many command lines.
const MAX_COMMANDS: usize = 20;

/// Serves SMTP on a listener until the lab stops.
pub fn serve(tasks: &mut JoinSet<()>, listener: TcpListener, name: &'static str) {
    tasks.spawn(async move {
        let mut sessions = JoinSet::new();
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            sessions.spawn(async move {
                let _ = tokio::time::timeout(SESSION, session(stream, name)).await;
            });
            while sessions.try_join_next().is_some() {}
        }
    });
}

async fn session(stream: TcpStream, name: &str) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read.take(16 * 1024));
    if write
        .write_all(format!("220 {name} ESMTP v6audit-lab\r\n").as_bytes())
        .await
        .is_err()
    {
        return;
    }
    for _ in 0..MAX_COMMANDS {
        let mut line = String::new();
        match reader.read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let verb = line
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let answer = match verb.as_str() {
            "EHLO" => format!("250-{name}\r\n250-SIZE 10485760\r\n250 STARTTLS\r\n"),
            "HELO" => format!("250 {name}\r\n"),
            "QUIT" => {
                let _ = write.write_all(b"221 2.0.0 Bye\r\n").await;
                return;
            }
            _ => "502 5.5.2 Not in the lab\r\n".to_owned(),
        };
        if write.write_all(answer.as_bytes()).await.is_err() {
            return;
        }
    }
}
