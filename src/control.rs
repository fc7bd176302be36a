// SPDX-License-Identifier: GPL-2.0
//! Control of a running instance over its socket, /var/run/scx/fairrs/stats:
//! the server the scheduler runs (`Server`: a private directory, peer
//! credentials, bounded requests and connections), what it asks of the
//! scheduler loop (`Call`: a snapshot for a report, or a retune), and the two
//! clients, `--monitor` and `--set`.
//!
//! The socket speaks scx_stats' protocol, so StatsClient and the scx tools
//! read it: "stats" with target "top" (a `Metrics` report, see stats.rs) or
//! "set" (a `SetResult`), and "stats_meta". Root only: the directory is
//! private, and "set" is refused to a peer that is not root.

use std::collections::BTreeMap;
use std::io::{ErrorKind, Read as _, Write as _};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use log::warn;
use scx_stats::prelude::*;
use scx_stats_derive::{stat_doc, Stats};
use serde::{Deserialize, Serialize};

use crate::stats::{self, Metrics, Raw, Report};

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

/// Outcome of a `--set`, as JSON for the client.
#[stat_doc]
#[derive(Clone, Debug, Default, Serialize, Deserialize, Stats)]
pub struct SetResult {
    #[stat(desc = "1 if the change was applied, 0 if refused")]
    pub applied: u64,
    #[stat(desc = "What changed, or why it was refused")]
    pub message: String,
}

/// Where the stats socket lives: /var/run/scx/fairrs/stats, the path
/// scx_stats clients derive from the scheduler name (STATS_SCHED_PATH).
pub const STATS_SCHED_PATH: &str = "fairrs";
pub const STATS_DIR: &str = "/var/run/scx/fairrs";

/// What the stats server tolerates from a client. A request is one JSON line
/// of well under 1 KiB; --monitor asks once per interval (at most 3600 s).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest request line; a longer one is answered with an error and the
    /// connection closed (there is no way to find the next request in it).
    pub max_request: usize,
    /// Connections served at once (a thread and a socket each); more are
    /// told so in one line and closed, so a flood cannot exhaust the
    /// daemon's file descriptors (with 1024, scx_stats' own server ends up
    /// unable to open anything, its accept loop spinning).
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

/// How often blocked server threads look at the stop flag and their deadlines.
const TICK: Duration = Duration::from_millis(200);

/// The stats socket. It speaks scx_stats' protocol (one JSON request per
/// line, one JSON response per line; "stats" with target "top" or "set", and
/// "stats_meta"), so StatsClient and the scx tools read it, but it is served
/// here rather than by scx_stats' StatsServer, which hands our code neither
/// the connection (no peer credentials for "set") nor any bound on what a
/// client sends (it buffers a line without end, keeps every connection and
/// its thread, and spins when accept() runs out of descriptors).
///
/// One thread accepts; each connection gets a thread that forwards its
/// requests to the scheduler loop as `Call`s. Dropping the server stops the
/// threads and removes the socket.
pub struct Server {
    path: PathBuf,
    /// (st_dev, st_ino) of the socket we bound, so that we never remove one
    /// that a later instance created.
    socket: (u64, u64),
    exit: Arc<AtomicBool>,
    acceptor: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// Make `dir` private to this process's user (root), then bind
    /// `dir/stats` inside it: the socket never exists where another user
    /// could reach it, not even for a moment. Refuses, naming why, a
    /// directory it cannot make private and a socket that did not come out
    /// mode 0600.
    pub fn launch(dir: &Path, default_top: usize, limits: Limits, calls: mpsc::Sender<Call>) -> Result<Self> {
        private_dir(dir)?;
        let path = dir.join("stats");
        // A socket left by an instance that was killed: connecting to it
        // would fail anyway, and bind() needs the name.
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("removing the old {}", path.display()))
            }
            _ => {}
        }
        // bind() creates the socket file with mode 0777 & ~umask. The
        // directory already keeps everyone else out; this makes the socket
        // itself 0600 as well. (The umask is per process; nothing else
        // creates files while the scheduler starts.)
        let old_umask = unsafe { libc::umask(0o177) };
        let bound = UnixListener::bind(&path);
        unsafe { libc::umask(old_umask) };
        let listener = bound.with_context(|| format!("creating the socket {}", path.display()))?;
        let meta = std::fs::symlink_metadata(&path).with_context(|| format!("checking {}", path.display()))?;
        if meta.mode() & 0o077 != 0 {
            bail!("{} came out mode {:o}, open to other users", path.display(), meta.mode() & 0o777);
        }

        let exit = Arc::new(AtomicBool::new(false));
        let stop = exit.clone();
        let acceptor = std::thread::Builder::new()
            .name("fairrs-stats".into())
            .spawn(move || accept_loop(listener, default_top, limits, calls, stop))
            .context("starting the stats server thread")?;
        Ok(Self { path, socket: (meta.dev(), meta.ino()), exit, acceptor: Some(acceptor) })
    }

    #[cfg(test)]
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.exit.store(true, Ordering::Relaxed);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        if let Ok(m) = std::fs::symlink_metadata(&self.path) {
            if (m.dev(), m.ino()) == self.socket {
                let _ = std::fs::remove_file(&self.path);
            }
        }
    }
}

/// Make `dir` a directory that only this process's user can enter (0700),
/// creating it (and its parent) if needed. connect() needs search permission
/// on every directory of the socket's path, so this is what keeps other users
/// off the socket, whatever the socket's own mode. A directory that belongs
/// to someone else, or a parent that others may write to (they could put
/// their own directory in its place), is refused.
fn private_dir(dir: &Path) -> Result<()> {
    let parent = dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let euid = unsafe { libc::geteuid() };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(parent)
        .with_context(|| format!("creating {}", parent.display()))?;
    let pm = std::fs::metadata(parent).with_context(|| format!("checking {}", parent.display()))?;
    let sticky = pm.mode() & 0o1000 != 0;
    if pm.uid() != euid && pm.uid() != 0 {
        bail!("{} belongs to uid {}, not to root", parent.display(), pm.uid());
    }
    if pm.mode() & 0o022 != 0 && !sticky {
        bail!("{} is writable by other users (mode {:o})", parent.display(), pm.mode() & 0o7777);
    }
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Err(e) if e.kind() != ErrorKind::AlreadyExists => {
            return Err(e).with_context(|| format!("creating {}", dir.display()))
        }
        _ => {}
    }
    // symlink_metadata: a symlink planted here is refused, not followed.
    let m = std::fs::symlink_metadata(dir).with_context(|| format!("checking {}", dir.display()))?;
    if !m.file_type().is_dir() {
        bail!("{} is not a directory", dir.display());
    }
    if m.uid() != euid {
        bail!("{} belongs to uid {}, not to this process's user (uid {euid})", dir.display(), m.uid());
    }
    if m.mode() & 0o777 != 0o700 {
        // Ours, and not a symlink: an older version made it 0755.
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("making {} private", dir.display()))?;
    }
    Ok(())
}

/// The process at the other end of a connection, as the kernel recorded it
/// at connect() (SO_PEERCRED): the client cannot choose what this says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    pub pid: i32,
    pub uid: u32,
}

fn peer_of(stream: &UnixStream) -> std::io::Result<Peer> {
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

/// Connections being served; a slot is given back when its thread ends.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

fn accept_loop(listener: UnixListener, default_top: usize, limits: Limits, calls: mpsc::Sender<Call>, exit: Arc<AtomicBool>) {
    let open = Arc::new(AtomicUsize::new(0));
    let mut failing = false;
    while !exit.load(Ordering::Relaxed) {
        // poll() rather than a blocking accept(), so that a stop is seen
        // within a tick without waking the thread through its own socket.
        let mut pfd = libc::pollfd { fd: listener.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd.
        if unsafe { libc::poll(&mut pfd, 1, TICK.as_millis() as libc::c_int) } <= 0 {
            continue;
        }
        let stream = match listener.accept() {
            Ok((stream, _)) => {
                failing = false;
                stream
            }
            Err(e) => {
                // Out of descriptors (EMFILE) and the like: the connection
                // stays queued and poll() reports it at once, so wait rather
                // than spin, and say so once, not once per retry.
                if !failing {
                    warn!("stats socket: cannot accept a connection ({e}); retrying");
                    failing = true;
                }
                std::thread::sleep(TICK);
                continue;
            }
        };
        if open.load(Ordering::Relaxed) >= limits.max_connections {
            let why = format!("scx_fairrs serves at most {} stats connections at once; try again later", limits.max_connections);
            let _ = stream.set_nonblocking(true);
            let _ = send(&stream, &err_resp(libc::EAGAIN, why));
            continue;
        }
        let peer = peer_of(&stream).ok();
        open.fetch_add(1, Ordering::Relaxed);
        let slot = Slot(open.clone());
        let (calls, exit) = (calls.clone(), exit.clone());
        let spawned = std::thread::Builder::new().name("fairrs-stats-conn".into()).spawn(move || {
            let _slot = slot;
            let mut conn = Connection { peer, prev: None, default_top, limits, calls };
            conn.serve(&stream, &exit);
        });
        // The closure, slot included, is dropped if the thread cannot start.
        if let Err(e) = spawned {
            warn!("stats socket: cannot start a thread for a connection ({e})");
        }
    }
}

/// An error answer, as scx_stats' server sends them: errno and a message.
fn err_resp(errno: i32, message: String) -> StatsResponse {
    StatsResponse { errno, args: [("resp".to_string(), serde_json::Value::String(message))].into() }
}

fn ok_resp(value: serde_json::Value) -> StatsResponse {
    StatsResponse { errno: 0, args: [("resp".to_string(), value)].into() }
}

fn send(mut stream: &UnixStream, resp: &StatsResponse) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(resp)?;
    line.push(b'\n');
    stream.write_all(&line)
}

/// At most 64 characters of client-supplied text, for messages and logs.
fn clip(s: &str) -> &str {
    s.char_indices().nth(64).map_or(s, |(i, _)| &s[..i])
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
struct Connection {
    peer: Option<Peer>,
    prev: Option<Box<Raw>>,
    default_top: usize,
    limits: Limits,
    calls: mpsc::Sender<Call>,
}

impl Connection {
    fn serve(&mut self, stream: &UnixStream, exit: &AtomicBool) {
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
    fn answer(&mut self, line: &[u8]) -> StatsResponse {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::tests::{raw, task};
    use crate::stats::NR_COUNTERS;

    // Run on the host: no BPF needed behind the socket.

    /// A fresh directory for one test's socket, 0755 whatever the umask.
    fn scratch(name: &str) -> PathBuf {
        let base = std::env::temp_dir().join(format!("fairrs-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir(&base).unwrap();
        std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o755)).unwrap();
        base
    }

    fn mode(path: &Path) -> u32 {
        std::fs::symlink_metadata(path).unwrap().mode() & 0o7777
    }

    fn is_root() -> bool {
        unsafe { libc::geteuid() == 0 }
    }

    /// Stands in for the scheduler loop: answers snapshots, applies every
    /// set it gets; returns the sets once the server has gone.
    fn fake_loop(calls: mpsc::Receiver<Call>) -> std::thread::JoinHandle<Vec<(String, String)>> {
        std::thread::spawn(move || {
            let (t0, mut n, mut sets) = (Instant::now(), 0u64, Vec::new());
            for call in calls {
                match call.request {
                    Request::Snapshot => {
                        n += 1;
                        let at = t0 + Duration::from_millis(100 * n);
                        let snap = raw(at, vec![n; NR_COUNTERS], vec![task(1, 0, 1024, 0, 0)]);
                        let _ = call.reply.send(Response::Snapshot(Box::new(snap)));
                    }
                    Request::Set(k, v) => {
                        let _ = call.reply.send(Response::Set(Ok(format!("{k} -> {v}"))));
                        sets.push((k, v));
                    }
                }
            }
            sets
        })
    }

    /// A server in a fresh scratch directory `name`, with `fake_loop` behind
    /// it: (the directory, the server, the loop).
    fn launch(name: &str, limits: Limits) -> (PathBuf, Server, std::thread::JoinHandle<Vec<(String, String)>>) {
        let base = scratch(name);
        let (tx, rx) = mpsc::channel();
        let answers = fake_loop(rx);
        let server = Server::launch(&base.join("fairrs"), 3, limits, tx).unwrap();
        (base, server, answers)
    }

    fn quick_limits() -> Limits {
        Limits {
            max_request: 1024,
            max_connections: 4,
            request_timeout: Duration::from_millis(500),
            idle_timeout: Duration::from_secs(60),
            answer_timeout: Duration::from_secs(5),
        }
    }

    fn connect(path: &Path) -> UnixStream {
        let s = UnixStream::connect(path).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    }

    /// One response line from `s`, parsed; None at end of stream.
    fn response(s: &UnixStream) -> Option<StatsResponse> {
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(s), &mut line).unwrap();
        (!line.is_empty()).then(|| serde_json::from_str(&line).unwrap())
    }

    const SET_REQUEST: &[u8] =
        b"{\"req\":\"stats\",\"args\":{\"target\":\"set\",\"key\":\"sched_latency_us\",\"value\":\"12000\"}}\n";

    /// From a forked child running as `uid`: connect to `path`, send
    /// `request`, return the first response line, or Err(errno) if connect()
    /// is refused. The child only makes system calls (no allocation: the
    /// test process has other threads).
    fn as_user(uid: u32, path: &Path, request: &[u8]) -> Result<String, i32> {
        use std::os::unix::ffi::OsStrExt;
        let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
        addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
        let bytes = path.as_os_str().as_bytes();
        assert!(bytes.len() < addr.sun_path.len());
        for (d, &s) in addr.sun_path.iter_mut().zip(bytes) {
            *d = s as libc::c_char;
        }
        let mut pipe = [0; 2];
        assert_eq!(unsafe { libc::pipe(pipe.as_mut_ptr()) }, 0);
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            unsafe {
                let out = pipe[1];
                let fail = |tag: u8, e: i32| {
                    let msg = [tag, e as u8];
                    libc::write(out, msg.as_ptr().cast(), 2);
                    libc::_exit(0)
                };
                if libc::setgroups(0, std::ptr::null()) != 0 || libc::setgid(uid) != 0 || libc::setuid(uid) != 0 {
                    fail(b'U', 0);
                }
                let s = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0);
                let len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
                if libc::connect(s, (&addr as *const libc::sockaddr_un).cast(), len) != 0 {
                    fail(b'E', std::io::Error::last_os_error().raw_os_error().unwrap_or(0));
                }
                libc::write(out, b"C".as_ptr().cast(), 1);
                libc::write(s, request.as_ptr().cast(), request.len());
                let mut buf = [0u8; 4096];
                loop {
                    let n = libc::read(s, buf.as_mut_ptr().cast(), buf.len());
                    if n <= 0 {
                        break;
                    }
                    libc::write(out, buf.as_ptr().cast(), n as usize);
                    if buf[..n as usize].contains(&b'\n') {
                        break;
                    }
                }
                libc::_exit(0);
            }
        }
        unsafe { libc::close(pipe[1]) };
        let mut out = Vec::new();
        let mut reader = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(pipe[0]) };
        std::io::Read::read_to_end(&mut reader, &mut out).unwrap();
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
        match out.first() {
            Some(b'E') => Err(out[1] as i32),
            Some(b'C') => Ok(String::from_utf8_lossy(&out[1..]).into_owned()),
            _ => panic!("the child running as uid {uid} failed: {out:?}"),
        }
    }

    #[test]
    fn the_socket_is_private_from_the_moment_it_exists() {
        let base = scratch("private");
        let dir = base.join("fairrs");
        // What an older version left: a 0755 directory and a stale socket.
        std::fs::DirBuilder::new().mode(0o755).create(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        drop(UnixListener::bind(dir.join("stats")).unwrap());
        let (tx, rx) = mpsc::channel();
        let answers = fake_loop(rx);
        let server = Server::launch(&dir, 3, Limits::default(), tx).unwrap();
        let socket = server.path().to_path_buf();
        // The directory is made private before bind(), and the socket is
        // created 0600 (not chmod-ed after).
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&socket), 0o600);
        // The stale socket was replaced: a client gets answers.
        let mut client = StatsClient::new().set_path(&socket).connect(Some(5000)).unwrap();
        let _: Metrics = client.request("stats", vec![("target".into(), "top".into())]).unwrap();
        if is_root() {
            // Another user cannot even connect.
            assert_eq!(as_user(65534, &socket, SET_REQUEST), Err(libc::EACCES));
        } else {
            eprintln!("not root: the connect-as-another-user check needs root to switch users");
        }
        drop(client);
        drop(server);
        assert!(!socket.exists(), "the socket is removed when the server stops");
        assert!(answers.join().unwrap().is_empty());
        let _ = std::fs::remove_dir_all(&base);
    }

    #[test]
    fn a_directory_that_cannot_be_made_private_is_refused() {
        let base = scratch("refused");
        let dir = base.join("fairrs");
        let launch = |dir: &Path| match Server::launch(dir, 3, Limits::default(), mpsc::channel().0) {
            Ok(_) => panic!("{} was accepted", dir.display()),
            Err(e) => format!("{e:#}"),
        };
        // A symlink planted where the directory goes is not followed.
        std::os::unix::fs::symlink(&base, &dir).unwrap();
        assert!(launch(&dir).contains("is not a directory"));
        std::fs::remove_file(&dir).unwrap();
        // A parent others may write to: they could swap the directory.
        std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(launch(&dir).contains("writable by other users"));
        std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o755)).unwrap();
        if is_root() {
            // A directory another user made first.
            std::fs::create_dir(&dir).unwrap();
            std::os::unix::fs::chown(&dir, Some(65534), None).unwrap();
            let why = launch(&dir);
            assert!(why.contains("belongs to uid 65534"), "{why}");
            assert!(!dir.join("stats").exists());
        }
        let _ = std::fs::remove_dir_all(&base);
    }

    #[test]
    fn set_is_for_root_peers_only() {
        let (tx, rx) = mpsc::channel();
        let conn = |peer| Connection { peer, prev: None, default_top: 3, limits: quick_limits(), calls: tx.clone() };
        let line = &SET_REQUEST[..SET_REQUEST.len() - 1];
        for peer in [Some(Peer { pid: 42, uid: 1000 }), None] {
            let resp = conn(peer).answer(line);
            assert_eq!(resp.errno, 0);
            let result: SetResult = serde_json::from_value(resp.args["resp"].clone()).unwrap();
            assert_eq!(result.applied, 0);
            assert!(result.message.contains("only root may retune"), "{}", result.message);
            assert!(rx.try_recv().is_err(), "a refused set never reaches the scheduler");
        }
        let answers = fake_loop(rx);
        let resp = conn(Some(Peer { pid: 1, uid: 0 })).answer(line);
        let result: SetResult = serde_json::from_value(resp.args["resp"].clone()).unwrap();
        assert_eq!((result.applied, result.message.as_str()), (1, "sched_latency_us -> 12000"));
        drop(tx);
        assert_eq!(answers.join().unwrap(), vec![("sched_latency_us".to_string(), "12000".to_string())]);
    }

    #[test]
    fn a_peer_that_is_not_root_cannot_set_even_on_an_open_socket() {
        if !is_root() {
            eprintln!("not root: cannot connect as another user; set_is_for_root_peers_only covers the rule");
            return;
        }
        let (base, server, answers) = launch("peercred", quick_limits());
        let socket = server.path().to_path_buf();
        // Open the socket to everyone, as if the client had got through.
        std::fs::set_permissions(socket.parent().unwrap(), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o666)).unwrap();
        let line = as_user(65534, &socket, SET_REQUEST).expect("connect as uid 65534");
        let resp: StatsResponse = serde_json::from_str(&line).unwrap();
        let result: SetResult = serde_json::from_value(resp.args["resp"].clone()).unwrap();
        assert_eq!(result.applied, 0, "{line}");
        assert!(result.message.contains("uid 65534"), "{line}");
        // Root, through the same scx_stats client as --set, is served.
        let mut client = StatsClient::new().set_path(&socket).connect(Some(5000)).unwrap();
        let args = vec![
            ("target".to_string(), "set".to_string()),
            ("key".to_string(), "migration_cost_us".to_string()),
            ("value".to_string(), "400".to_string()),
        ];
        let result: SetResult = client.request("stats", args).unwrap();
        assert_eq!(result.applied, 1);
        drop(client);
        drop(server);
        assert_eq!(answers.join().unwrap(), vec![("migration_cost_us".to_string(), "400".to_string())]);
        let _ = std::fs::remove_dir_all(&base);
    }

    #[test]
    fn malformed_huge_and_endless_requests_neither_crash_nor_wedge_it() {
        let limits = quick_limits();
        let (base, server, answers) = launch("hostile", limits);
        let path = server.path().to_path_buf();

        // Not JSON, not UTF-8, an unknown command: an error each, and the
        // connection goes on serving.
        let s = connect(&path);
        for bad in [&b"hello\n"[..], b"\xff\xfe\x00\n", b"{\"req\":\"reboot\"}\n", b"\n"] {
            (&s).write_all(bad).unwrap();
            assert_eq!(response(&s).unwrap().errno, libc::EINVAL, "{bad:?}");
        }
        (&s).write_all(b"{\"req\":\"stats_meta\"}\n").unwrap();
        let meta = response(&s).unwrap();
        assert_eq!(meta.errno, 0);
        assert!(meta.args["resp"].get(Metrics::meta().name.as_str()).is_some(), "{:?}", meta.args);
        // Two requests in one write: both answered, in order.
        (&s).write_all(b"hello\n{\"req\":\"stats_meta\"}\n").unwrap();
        let mut reader = std::io::BufReader::new(&s);
        let errnos: Vec<i32> = (0..2)
            .map(|_| {
                let mut line = String::new();
                std::io::BufRead::read_line(&mut reader, &mut line).unwrap();
                serde_json::from_str::<StatsResponse>(&line).unwrap().errno
            })
            .collect();
        assert_eq!(errnos, vec![libc::EINVAL, 0]);
        drop(s);

        // 100 MB in one line: refused after max_request bytes, not buffered.
        let s = connect(&path);
        let chunk = vec![b'x'; 1 << 20];
        let sent = (0..100).take_while(|_| (&s).write_all(&chunk).is_ok()).count();
        assert!(sent < 100, "the server kept reading a line of {sent} MiB");
        // The server answers E2BIG and closes with the rest of the line still
        // unread, and a Unix socket closed with unread data resets its peer:
        // depending on timing the client reads the answer or only the reset.
        // Either way the request was refused and the connection is over.
        let mut line = String::new();
        match std::io::BufRead::read_line(&mut std::io::BufReader::new(&s), &mut line) {
            Ok(_) => {
                assert_eq!(serde_json::from_str::<StatsResponse>(&line).unwrap().errno, libc::E2BIG);
                // After the answer: end of stream, or the reset arriving late.
                let mut rest = String::new();
                match std::io::BufRead::read_line(&mut std::io::BufReader::new(&s), &mut rest) {
                    Ok(n) => assert_eq!(n, 0, "closed after an oversized request, got {rest:?}"),
                    Err(e) => assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{e}"),
                }
            }
            Err(e) => assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{e}"),
        }

        // A request that never ends: cut off after request_timeout.
        let s = connect(&path);
        let t = Instant::now();
        (&s).write_all(b"{\"req\":\"stats\"").unwrap();
        assert_eq!(response(&s).unwrap().errno, libc::ETIMEDOUT);
        assert!(response(&s).is_none());
        assert!(t.elapsed() < limits.request_timeout + Duration::from_secs(2), "{:?}", t.elapsed());

        // The server is still there.
        let s = connect(&path);
        (&s).write_all(b"{\"req\":\"stats\",\"args\":{\"target\":\"top\"}}\n").unwrap();
        assert_eq!(response(&s).unwrap().errno, 0);
        drop(s);
        drop(server);
        assert!(answers.join().unwrap().is_empty());
        let _ = std::fs::remove_dir_all(&base);
    }

    #[test]
    fn a_flood_of_connections_is_turned_away_not_kept() {
        // 1000 connections from this process need that many descriptors.
        let mut lim: libc::rlimit = unsafe { std::mem::zeroed() };
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
        if lim.rlim_cur < 1400 {
            lim.rlim_cur = lim.rlim_max.min(1400);
            unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) };
        }
        let n = 1000.min(lim.rlim_cur as usize - 300);
        let limits = quick_limits();
        let (base, server, answers) = launch("flood", limits);
        let path = server.path().to_path_buf();
        // Slots are taken in the order connections are accepted: the first
        // max_connections are served, every later one is told so and closed
        // at once (a thread and two descriptors each with scx_stats' server).
        let flood: Vec<UnixStream> = (0..n).map(|_| connect(&path)).collect();
        let (served, rest) = flood.split_at(limits.max_connections);
        for s in rest {
            let r = response(s).expect("an answer before the close");
            assert_eq!(r.errno, libc::EAGAIN, "{:?}", r.args);
            assert!(response(s).is_none());
        }
        for s in served {
            (&*s).write_all(b"{\"req\":\"stats_meta\"}\n").unwrap();
            assert_eq!(response(s).unwrap().errno, 0);
        }
        drop(flood);
        // Their slots come back once they are gone.
        let t = Instant::now();
        let back = loop {
            let s = connect(&path);
            (&s).write_all(b"{\"req\":\"stats_meta\"}\n").unwrap();
            match response(&s) {
                Some(r) if r.errno == 0 => break true,
                _ if t.elapsed() > Duration::from_secs(5) => break false,
                _ => std::thread::sleep(Duration::from_millis(50)),
            }
        };
        assert!(back, "no connection served after the flood");
        drop(server);
        assert!(answers.join().unwrap().is_empty());
        let _ = std::fs::remove_dir_all(&base);
    }
}
