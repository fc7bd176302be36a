// SPDX-License-Identifier: GPL-2.0
//! Control of a running instance over its socket, /var/run/scx/root/stats
//! (scx_stats' default path, where scxtop and a plain StatsClient look): the
//! server the scheduler runs (server.rs: a private directory, bounded
//! connections, a live server of another scheduler left alone;
//! connection.rs: one client's requests, peer credentials), what it asks of
//! the scheduler loop (`Call`: a snapshot for a report, or a retune), and the
//! clients, `--monitor`, `--set` and `--openmetrics` (client.rs).
//!
//! The socket speaks scx_stats' protocol (wire.rs), so StatsClient and the
//! scx tools read it: "stats" with target "top" (a `Metrics` report, see
//! stats.rs) or "set" (a `SetResult`), and "stats_meta". Root only: the
//! directory is private, and "set" is refused to a peer that is not root.

use std::sync::mpsc;
use std::time::Duration;

use crate::stats::Raw;

mod client;
mod connection;
mod server;
#[cfg(test)]
mod tests;
mod wire;

pub use client::{monitor, openmetrics, set_remote};
pub use server::Server;
pub use wire::STATS_DIR;

/// What a connection asks of the scheduler loop.
#[derive(Debug)]
pub enum Request {
    /// A cumulative snapshot.
    Snapshot,
    /// Retune KEY to VALUE (validated like the flag).
    Set(String, String),
}

/// The scheduler loop's answer.
#[derive(Debug)]
pub enum Response {
    Snapshot(Box<Raw>),
    /// Ok: a description of the change; Err: why it was refused.
    Set(Result<String, String>),
}

/// A request on its way to the scheduler loop, with where its answer goes.
#[derive(Debug)]
pub struct Call {
    pub request: Request,
    pub reply: mpsc::SyncSender<Response>,
}

/// What the stats server tolerates from a client. A request is one JSON line
/// of well under 1 KiB; --monitor asks once per interval (at most 3600 s).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest request line; a longer one is answered with an error and the
    /// connection closed (there is no way to find the next request in it).
    pub max_request: usize,
    /// Connections served at once (a thread and a socket each); more are
    /// told so in one line and closed, so a flood cannot exhaust the
    /// daemon's file descriptors.
    pub max_connections: usize,
    /// Time to finish a request once its first byte has arrived.
    pub request_timeout: Duration,
    /// An idle connection is closed after this: longer than --monitor's
    /// longest interval.
    pub idle_timeout: Duration,
    /// Time the scheduler loop has to answer, and a client to take a reply.
    pub answer_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_request: 64 * 1024,
            max_connections: 32,
            request_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(2 * 3600),
            answer_timeout: Duration::from_secs(10),
        }
    }
}
