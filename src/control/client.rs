// SPDX-License-Identifier: GPL-2.0
//! The clients of a running instance: `--monitor`, `--set` and
//! `--openmetrics`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Result};
use scx_stats::prelude::*;

use super::connection::peer_of;
use super::server::describe;
use super::wire::{is_fairrs, SetResult, STATS_SOCKET};
use crate::openmetrics;
use crate::stats::{Metrics, Report};

/// Longest wait for one answer: the server answers within its own limit
/// (Limits::answer_timeout, 10 s) or says why not, so only a wedged server
/// gets here.
const CLIENT_TIMEOUT_MS: u64 = 30_000;

/// What `--openmetrics` measures its rates over: its first answer covers
/// only the moment of the request.
pub const OPENMETRICS_INTERVAL: Duration = Duration::from_secs(1);

/// A connection to scx_fairrs's stats socket at `path`, with the metadata it
/// sent. Another scheduler's stats server at the same path is refused by name.
fn client(path: &Path) -> Result<(StatsClient, BTreeMap<String, StatsMeta>)> {
    let unreachable = |e: &dyn std::fmt::Display| {
        anyhow::anyhow!(
            "cannot reach a running scx_fairrs at {} ({e}); is it running, and are you root?",
            path.display()
        )
    };
    let mut c = StatsClient::new().set_path(path).connect(Some(CLIENT_TIMEOUT_MS)).map_err(|e| unreachable(&e))?;
    let metas: BTreeMap<String, StatsMeta> = c.request("stats_meta", vec![]).map_err(|e| unreachable(&e))?;
    if !is_fairrs(&metas) {
        let who = std::os::unix::net::UnixStream::connect(path)
            .and_then(|s| peer_of(&s))
            .map_or_else(|_| "a process that has since gone".into(), describe);
        bail!("{} is served by another scheduler's stats server ({who}), not by scx_fairrs", path.display());
    }
    Ok((c, metas))
}

fn top_args(top_n: usize) -> Vec<(String, String)> {
    vec![("target".to_string(), "top".to_string()), ("top".to_string(), top_n.to_string())]
}

/// `--monitor`: one connection to the running instance, one report per
/// `every` until `should_exit`, as the text block or (`json`) as pretty JSON
/// exactly as the instance sent it.
pub fn monitor(every: Duration, top_n: usize, json: bool, should_exit: impl Fn() -> bool) -> Result<()> {
    let (mut c, _) = client(Path::new(STATS_SOCKET))?;
    // The first answer covers the time since the connection opened: skip it.
    let _: serde_json::Value = c.request("stats", top_args(top_n))?;
    while !should_exit() {
        std::thread::sleep(every);
        let v: serde_json::Value = c.request("stats", top_args(top_n))?;
        if json {
            println!("{}", serde_json::to_string_pretty(&v)?);
        } else {
            println!("{}", serde_json::from_value::<Metrics>(v)?.format());
        }
    }
    Ok(())
}

/// `--set key=value` against the running instance.
pub fn set_remote(key: &str, value: &str) -> Result<SetResult> {
    let (mut c, _) = client(Path::new(STATS_SOCKET))?;
    let args = vec![
        ("target".to_string(), "set".to_string()),
        ("key".to_string(), key.to_string()),
        ("value".to_string(), value.to_string()),
    ];
    c.request("stats", args)
}

/// `--openmetrics`: one report of the running instance over `interval`, in
/// the OpenMetrics text format, named by the metadata it sent.
pub fn openmetrics(top_n: usize) -> Result<String> {
    openmetrics_at(Path::new(STATS_SOCKET), top_n, OPENMETRICS_INTERVAL)
}

pub(super) fn openmetrics_at(path: &Path, top_n: usize, interval: Duration) -> Result<String> {
    let (mut c, metas) = client(path)?;
    let _: serde_json::Value = c.request("stats", top_args(top_n))?;
    std::thread::sleep(interval);
    let report: serde_json::Value = c.request("stats", top_args(top_n))?;
    openmetrics::render(&metas, &report)
}

#[cfg(test)]
pub(super) fn client_at(path: &Path) -> Result<(StatsClient, BTreeMap<String, StatsMeta>)> {
    client(path)
}
