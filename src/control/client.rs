// SPDX-License-Identifier: GPL-2.0
//! The clients of a running instance: `--monitor` and `--set`.

use anyhow::Result;
use scx_stats::prelude::*;

use super::wire::{SetResult, STATS_SCHED_PATH};
use crate::stats::{Metrics, Report};

fn client() -> Result<StatsClient> {
    StatsClient::new().set_sched_path(STATS_SCHED_PATH).connect(None).map_err(|e| {
        anyhow::anyhow!("cannot reach a running scx_fairrs at /var/run/scx/{STATS_SCHED_PATH}/stats ({e}); is it running, and are you root?")
    })
}

/// `--monitor`: one connection to the running instance, one report per
/// `every` until `should_exit`, as the text block or (`json`) as pretty JSON
/// exactly as the instance sent it.
pub fn monitor(every: std::time::Duration, top_n: usize, json: bool, should_exit: impl Fn() -> bool) -> Result<()> {
    let mut c = client()?;
    let args = vec![("target".to_string(), "top".to_string()), ("top".to_string(), top_n.to_string())];
    // The first answer covers the time since the connection opened: skip it.
    let _: serde_json::Value = c.request("stats", args.clone())?;
    while !should_exit() {
        std::thread::sleep(every);
        let v: serde_json::Value = c.request("stats", args.clone())?;
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
    let mut c = client()?;
    let args = vec![
        ("target".to_string(), "set".to_string()),
        ("key".to_string(), key.to_string()),
        ("value".to_string(), value.to_string()),
    ];
    c.request("stats", args)
}
