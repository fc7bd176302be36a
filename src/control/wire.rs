// SPDX-License-Identifier: GPL-2.0
//! What crosses the control socket: where it lives, the `--set` answer, and
//! scx_stats' response lines (one JSON object per line).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::os::unix::net::UnixStream;

use scx_fairrs::metrics::OM_PREFIX;
use scx_stats::prelude::*;
use scx_stats_derive::{stat_doc, Stats};
use serde::{Deserialize, Serialize};

/// Outcome of a `--set`, as JSON for the client.
#[stat_doc]
#[derive(Clone, Debug, Default, Serialize, Deserialize, Stats)]
pub struct SetResult {
    #[stat(desc = "1 if the change was applied, 0 if refused")]
    pub applied: u64,
    #[stat(desc = "What changed, or why it was refused")]
    pub message: String,
}

/// Where the stats socket lives: /var/run/scx/root/stats, where scx_stats'
/// StatsClient and StatsServer look by default (base /var/run/scx, sched
/// path "root": the root scheduler, of which only one is attached at a time),
/// so scxtop and any plain StatsClient find it.
pub const STATS_DIR: &str = "/var/run/scx/root";
pub const STATS_SOCKET: &str = "/var/run/scx/root/stats";

/// Other schedulers serve the same path, so a client checks whom it reached:
/// scx_fairrs's top-level report names its OpenMetrics prefix (metrics.rs).
pub(super) fn is_fairrs(metas: &BTreeMap<String, StatsMeta>) -> bool {
    metas.values().any(|m| m.attrs.top.is_some() && m.attrs.user.get("_om_prefix").map(String::as_str) == Some(OM_PREFIX))
}

/// An error answer, as scx_stats' server sends them: errno and a message.
pub(super) fn err_resp(errno: i32, message: String) -> StatsResponse {
    StatsResponse { errno, args: [("resp".to_string(), serde_json::Value::String(message))].into() }
}

pub(super) fn ok_resp(value: serde_json::Value) -> StatsResponse {
    StatsResponse { errno: 0, args: [("resp".to_string(), value)].into() }
}

pub(super) fn send(mut stream: &UnixStream, resp: &StatsResponse) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(resp)?;
    line.push(b'\n');
    stream.write_all(&line)
}

/// At most 64 characters of client-supplied text, for messages and logs.
pub(super) fn clip(s: &str) -> &str {
    s.char_indices().nth(64).map_or(s, |(i, _)| &s[..i])
}
