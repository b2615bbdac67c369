//! `audit --push`: a run's results sent to the collector in parts
//! (`daemon::parts`) as the parts fill, so that the run holds none of them.
//! Parts wait until some portal's address lookup got an answer: a vantage
//! that measured nothing sends nothing (its results are unknown, not facts
//! about the portals).

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use v6audit_agent::daemon::parts::Part;
use v6audit_agent::daemon::push::Pusher;

enum Msg {
    Part(Part),
    /// Something was measured: parts held so far can go.
    Measured,
}

/// What the collector acknowledged.
#[derive(Debug, Default)]
pub(crate) struct Pushed {
    pub parts: usize,
    pub stored: u64,
    pub duplicates: u64,
}

/// Sends parts in the background, in the order given.
pub(crate) struct PartSender {
    tx: mpsc::UnboundedSender<Msg>,
    task: JoinHandle<Result<Pushed, String>>,
    measured: bool,
}

impl PartSender {
    pub(crate) fn new(pusher: Pusher) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(send(pusher, rx));
        Self {
            tx,
            task,
            measured: false,
        }
    }

    /// Sends a part (or holds it until something was measured).
    pub(crate) fn part(&self, part: Part) {
        // The task ends early only after a failed push, which `finish` reports.
        let _ = self.tx.send(Msg::Part(part));
    }

    /// Says that something was measured (once is enough).
    pub(crate) fn measured(&mut self) {
        if !self.measured {
            self.measured = true;
            let _ = self.tx.send(Msg::Measured);
        }
    }

    /// Waits for every part to be acknowledged. Held parts are dropped when
    /// nothing was measured.
    pub(crate) async fn finish(self) -> Result<Pushed, String> {
        drop(self.tx);
        self.task
            .await
            .map_err(|e| format!("the push task failed: {e}"))?
    }
}

async fn send(pusher: Pusher, mut rx: mpsc::UnboundedReceiver<Msg>) -> Result<Pushed, String> {
    let mut held: Vec<Part> = Vec::new();
    let mut go = false;
    let mut pushed = Pushed::default();
    while let Some(msg) = rx.recv().await {
        let ready: Vec<Part> = match msg {
            Msg::Part(p) if go => vec![p],
            Msg::Part(p) => {
                held.push(p);
                Vec::new()
            }
            Msg::Measured => {
                go = true;
                std::mem::take(&mut held)
            }
        };
        for part in ready {
            let acked = pusher.push(part.gzip).await.map_err(|e| {
                format!(
                    "push of report {} failed: {e} ({} of the run's reports were acknowledged before it)",
                    part.id, pushed.parts
                )
            })?;
            pushed.parts += 1;
            pushed.stored += acked.stored;
            pushed.duplicates += acked.duplicates;
        }
    }
    Ok(pushed)
}
