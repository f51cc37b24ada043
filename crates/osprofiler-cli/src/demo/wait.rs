//! Waiting for a trace to be complete in the collector: each service delivers its points on
//! its own schedule, so a trace read too early misses some. Complete means every start has
//! its stop and the count has stopped growing; a progress line on standard error shows the
//! wait.

use std::collections::HashSet;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::Value;

/// How often the collector is asked.
const POLL_EVERY: Duration = Duration::from_millis(100);

/// Polls in a row that must see the same count, every start stopped, before the trace
/// counts as complete (the pipelines deliver every 10 ms).
const STABLE_POLLS: u32 = 3;

/// The longest wait for one trace.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// What the collector held of a trace when the wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    /// Notifications stored.
    pub notifications: usize,
    /// Points started and not (yet) stopped.
    pub open: usize,
}

impl Seen {
    /// Reads a list of notifications as the collector serves it.
    fn of(list: &[Value]) -> Seen {
        let mut started = HashSet::new();
        let mut stopped = HashSet::new();
        for n in list {
            let name = n.get("name").and_then(Value::as_str).unwrap_or_default();
            let id = n
                .get("trace_id")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if name.ends_with("-start") {
                started.insert(id);
            } else if name.ends_with("-stop") {
                stopped.insert(id);
            }
        }
        Seen {
            notifications: list.len(),
            open: started.difference(&stopped).count(),
        }
    }
}

/// The progress line: rewritten in place on a terminal; elsewhere one line per trace, when
/// its wait ends.
pub struct Progress {
    terminal: bool,
}

impl Progress {
    /// A progress line on standard error.
    pub fn new() -> Progress {
        Progress {
            terminal: std::io::stderr().is_terminal(),
        }
    }

    fn show(&self, what: &str, seen: Option<Seen>) {
        if !self.terminal {
            return;
        }
        let counts = match seen {
            Some(s) => format!("{} notifications, {} points open", s.notifications, s.open),
            None => "nothing yet".to_owned(),
        };
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r\x1b[2Kwaiting for {what} in the collector: {counts}"
        );
        let _ = err.flush();
    }

    fn done(&self, what: &str, seen: Seen, took: Duration, complete: bool) {
        let mut err = std::io::stderr().lock();
        if self.terminal {
            let _ = write!(err, "\r\x1b[2K");
        }
        if complete {
            let _ = writeln!(
                err,
                "{what} complete in the collector: {} notifications ({} ms)",
                seen.notifications,
                took.as_millis()
            );
        } else {
            let _ = writeln!(
                err,
                "{what} still incomplete in the collector after {} s: {} notifications, {} \
                 points open; going on",
                took.as_secs(),
                seen.notifications,
                seen.open
            );
        }
    }
}

/// Polls `GET {collector}/api/v1/traces/{base_id}/notifications` until the trace is complete
/// or [`TIMEOUT`] passed (then it goes on with what is there); `what` names the trace on the
/// progress line. An error only when the collector does not answer as it should.
pub async fn until_complete(
    client: &reqwest::Client,
    collector: &str,
    base_id: &str,
    what: &str,
    progress: &Progress,
) -> Result<Seen> {
    let url = format!("{collector}/api/v1/traces/{base_id}/notifications");
    let began = Instant::now();
    let mut last: Option<Seen> = None;
    let mut stable = 0;
    loop {
        let seen = fetch(client, &url).await?;
        stable = match (seen, last) {
            (Some(s), Some(l)) if s == l && s.open == 0 => stable + 1,
            _ => 0,
        };
        last = seen;
        progress.show(what, seen);
        let took = began.elapsed();
        if let Some(s) = seen.filter(|_| stable >= STABLE_POLLS) {
            progress.done(what, s, took, true);
            return Ok(s);
        }
        if took >= TIMEOUT {
            let s = seen.unwrap_or(Seen {
                notifications: 0,
                open: 0,
            });
            progress.done(what, s, took, false);
            return Ok(s);
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// What the collector holds of the trace at `url`; `None` before its first notification.
async fn fetch(client: &reqwest::Client, url: &str) -> Result<Option<Seen>> {
    let response = client
        .get(url)
        .send()
        .await
        .with_context(|| format!("GET {url}"))?;
    let status = response.status();
    let body = response
        .text()
        .await
        .with_context(|| format!("GET {url}"))?;
    if status == reqwest::StatusCode::NOT_FOUND {
        return Ok(None);
    }
    if !status.is_success() {
        bail!("GET {url}: {status}: {body}");
    }
    let list: Vec<Value> =
        serde_json::from_str(&body).with_context(|| format!("GET {url}: not a JSON list"))?;
    Ok(Some(Seen::of(&list)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn open_points() {
        let list = [
            json!({"name": "wsgi-start", "trace_id": "a"}),
            json!({"name": "rpc-start", "trace_id": "b"}),
            json!({"name": "rpc-stop", "trace_id": "b"}),
        ];
        assert_eq!(
            Seen::of(&list),
            Seen {
                notifications: 3,
                open: 1
            }
        );
        assert_eq!(Seen::of(&list[1..]).open, 0);
    }
}
