// SPDX-License-Identifier: GPL-2.0
//! One client connection of the control socket: who is at the other end
//! (SO_PEERCRED), its request lines read within bounds, and the answer to
//! each ("stats_meta", "stats" with target "top" or "set").

use std::collections::BTreeMap;
use std::io::{ErrorKind, Read as _};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use log::warn;
use scx_stats::prelude::*;

use super::wire::{clip, err_resp, ok_resp, send, SetResult};
use super::{Call, Limits, Request, Response};
use crate::stats::{self, Metrics, Raw, Report};

/// How often blocked server threads look at the stop flag and their deadlines.
pub(super) const TICK: Duration = Duration::from_millis(200);

/// The process at the other end of a connection, as the kernel recorded it
/// at connect() (SO_PEERCRED): the client cannot choose what this says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    pub pid: i32,
    pub uid: u32,
}

pub(super) fn peer_of(stream: &UnixStream) -> std::io::Result<Peer> {
    let mut cred = libc::ucred { pid: 0, uid: 0, gid: 0 };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: cred and len are valid for writes of the sizes given.
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            &mut cred as *mut libc::ucred as *mut libc::c_void,
            &mut len,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(Peer { pid: cred.pid, uid: cred.uid })
}

/// Retuning the scheduler is for root only. The socket's directory already
/// keeps other users out; this holds even for a client that reached the
/// socket anyway (CAP_DAC_OVERRIDE, a descriptor passed on, a loosened mode).
fn may_set(peer: Option<Peer>) -> bool {
    peer.is_some_and(|p| p.uid == 0)
}

/// What reading one request line came to.
#[derive(Debug, PartialEq, Eq)]
enum LineRead {
    Line(Vec<u8>),
    /// The client closed the connection, went idle too long, or we are stopping.
    Closed,
    TooLong,
    /// A request started and did not end within the time limit.
    Unfinished,
}

/// Newline-terminated requests from a stream whose read timeout is TICK;
/// bytes after a newline are kept for the next request.
struct Lines {
    buf: Vec<u8>,
    /// How much of `buf` is known to hold no newline.
    scanned: usize,
}

impl Lines {
    fn next(&mut self, mut stream: &UnixStream, limits: &Limits, exit: &AtomicBool) -> LineRead {
        let waiting = Instant::now();
        let mut started = (!self.buf.is_empty()).then_some(waiting);
        loop {
            if let Some(at) = self.buf[self.scanned..].iter().position(|&b| b == b'\n') {
                let end = self.scanned + at;
                if end > limits.max_request {
                    return LineRead::TooLong;
                }
                let mut line: Vec<u8> = self.buf.drain(..=end).collect();
                line.pop();
                self.scanned = 0;
                return LineRead::Line(line);
            }
            self.scanned = self.buf.len();
            if self.buf.len() > limits.max_request {
                return LineRead::TooLong;
            }
            if exit.load(Ordering::Relaxed) {
                return LineRead::Closed;
            }
            match started {
                Some(t) if t.elapsed() > limits.request_timeout => return LineRead::Unfinished,
                None if waiting.elapsed() > limits.idle_timeout => return LineRead::Closed,
                _ => {}
            }
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk) {
                Ok(0) => return LineRead::Closed,
                Ok(n) => {
                    started.get_or_insert_with(Instant::now);
                    self.buf.extend_from_slice(&chunk[..n]);
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted) => {}
                Err(_) => return LineRead::Closed,
            }
        }
    }
}

/// One client connection: who it is, and the snapshot its previous "top"
/// request ended with (each report covers the time since then).
pub(super) struct Connection {
    peer: Option<Peer>,
    prev: Option<Box<Raw>>,
    default_top: usize,
    limits: Limits,
    calls: mpsc::Sender<Call>,
}

impl Connection {
    pub(super) fn new(peer: Option<Peer>, default_top: usize, limits: Limits, calls: mpsc::Sender<Call>) -> Self {
        Self { peer, prev: None, default_top, limits, calls }
    }

    pub(super) fn serve(&mut self, stream: &UnixStream, exit: &AtomicBool) {
        if stream.set_read_timeout(Some(TICK)).is_err()
            || stream.set_write_timeout(Some(self.limits.answer_timeout)).is_err()
        {
            return;
        }
        let mut lines = Lines { buf: Vec::new(), scanned: 0 };
        loop {
            let resp = match lines.next(stream, &self.limits, exit) {
                LineRead::Line(line) => self.answer(&line),
                LineRead::Closed => return,
                LineRead::TooLong => {
                    let why = format!("request longer than {} bytes; closing the connection", self.limits.max_request);
                    let _ = send(stream, &err_resp(libc::E2BIG, why));
                    return;
                }
                LineRead::Unfinished => {
                    let why = format!("request not finished within {:?}; closing the connection", self.limits.request_timeout);
                    let _ = send(stream, &err_resp(libc::ETIMEDOUT, why));
                    return;
                }
            };
            // A client that does not read its answers times out here.
            if send(stream, &resp).is_err() {
                return;
            }
        }
    }

    /// The response to one request line. Never panics on what a client sends.
    pub(super) fn answer(&mut self, line: &[u8]) -> StatsResponse {
        let req: StatsRequest = match serde_json::from_slice(line) {
            Ok(req) => req,
            Err(e) => return err_resp(libc::EINVAL, format!("not a stats request: {e}")),
        };
        match req.req.as_str() {
            "stats_meta" => {
                let metas: BTreeMap<String, StatsMeta> =
                    stats::metas().into_iter().chain([SetResult::meta()]).map(|m| (m.name.clone(), m)).collect();
                match serde_json::to_value(metas) {
                    Ok(v) => ok_resp(v),
                    Err(e) => err_resp(libc::EINVAL, e.to_string()),
                }
            }
            "stats" => match req.args.get("target").map_or("top", String::as_str) {
                "top" => self.top(&req.args),
                "set" => self.set(&req.args),
                other => err_resp(libc::EINVAL, format!("unknown stat target {:?}", clip(other))),
            },
            other => err_resp(libc::EINVAL, format!("unknown command {:?}", clip(other))),
        }
    }

    /// Ask the scheduler loop and wait for its answer, within a time limit.
    fn call(&self, request: Request) -> Result<Response, StatsResponse> {
        let (reply, answered) = mpsc::sync_channel(1);
        let stopping = || err_resp(libc::EAGAIN, "scx_fairrs is stopping".into());
        self.calls.send(Call { request, reply }).map_err(|_| stopping())?;
        answered.recv_timeout(self.limits.answer_timeout).map_err(|e| match e {
            mpsc::RecvTimeoutError::Timeout => err_resp(
                libc::ETIMEDOUT,
                format!("the scheduler did not answer within {:?}", self.limits.answer_timeout),
            ),
            mpsc::RecvTimeoutError::Disconnected => stopping(),
        })
    }

    fn snapshot(&self) -> Result<Box<Raw>, StatsResponse> {
        match self.call(Request::Snapshot)? {
            Response::Snapshot(raw) => Ok(raw),
            other => Err(err_resp(libc::EINVAL, format!("unexpected answer {other:?}"))),
        }
    }

    /// Metrics over the interval since this connection's previous report
    /// (the first one covers the moment of the request); arg "top" = tasks.
    fn top(&mut self, args: &BTreeMap<String, String>) -> StatsResponse {
        let prev = match self.prev.take() {
            Some(prev) => prev,
            None => match self.snapshot() {
                Ok(raw) => raw,
                Err(resp) => return resp,
            },
        };
        let cur = match self.snapshot() {
            Ok(raw) => raw,
            Err(resp) => {
                self.prev = Some(prev);
                return resp;
            }
        };
        let top_n = args.get("top").and_then(|v| v.parse().ok()).unwrap_or(self.default_top);
        let metrics = Metrics::between(&prev, &cur, top_n);
        self.prev = Some(cur);
        match metrics.to_json() {
            Ok(v) => ok_resp(v),
            Err(e) => err_resp(libc::EINVAL, e.to_string()),
        }
    }

    /// Retune KEY=VALUE, for a root peer only. A refusal is an answer with
    /// applied 0, as for a value out of range.
    fn set(&mut self, args: &BTreeMap<String, String>) -> StatsResponse {
        let key = args.get("key").cloned().unwrap_or_default();
        let value = args.get("value").cloned().unwrap_or_default();
        let result = if !may_set(self.peer) {
            let who = self.peer.map_or("an unknown user".to_string(), |p| format!("uid {} (pid {})", p.uid, p.pid));
            warn!("refused --set {}={} from {who}: only root may retune scx_fairrs", clip(&key), clip(&value));
            SetResult { applied: 0, message: format!("only root may retune scx_fairrs; this client is {who}") }
        } else {
            match self.call(Request::Set(key, value)) {
                Ok(Response::Set(Ok(msg))) => SetResult { applied: 1, message: msg },
                Ok(Response::Set(Err(msg))) => SetResult { applied: 0, message: msg },
                Ok(other) => return err_resp(libc::EINVAL, format!("unexpected answer {other:?}")),
                Err(resp) => return resp,
            }
        };
        match result.to_json() {
            Ok(v) => ok_resp(v),
            Err(e) => err_resp(libc::EINVAL, e.to_string()),
        }
    }
}
