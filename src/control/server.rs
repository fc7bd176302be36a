// SPDX-License-Identifier: GPL-2.0
//! The control socket's server: a private directory, a socket that is never
//! reachable by another user, and an accept loop that bounds the connections
//! it serves (each one served by connection.rs).

use std::io::ErrorKind;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};

use anyhow::{bail, Context, Result};
use log::warn;

use super::connection::{peer_of, Connection, Peer, TICK};
use super::wire::{err_resp, send};
use super::{Call, Limits};

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
/// Held while a launch changes the process's umask around bind().
static UMASK_TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());

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
    /// directory it cannot make private, a socket another live process
    /// serves, and a socket that did not come out mode 0600.
    pub fn launch(dir: &Path, default_top: usize, limits: Limits, calls: mpsc::Sender<Call>) -> Result<Self> {
        private_dir(dir)?;
        let path = dir.join("stats");
        // Every scx_stats server uses this path. One that still answers
        // after a grace period (a scheduler just replaced may still be on
        // its way out) is left alone: its owner would lose its clients to
        // us. A dead one, left by a scheduler that exited (scx_stats' server
        // never removes its socket) or was killed, is replaced: bind() needs
        // the name.
        let since = std::time::Instant::now();
        while let Some(who) = live_server(&path).with_context(|| format!("checking the old {}", path.display()))? {
            if since.elapsed() >= LIVE_GRACE {
                bail!("{} is served by another live process ({who}); not taking it over", path.display());
            }
            std::thread::sleep(TICK);
        }
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("removing the old {}", path.display()))
            }
            _ => {}
        }
        // bind() creates the socket file with mode 0777 & ~umask. The
        // directory already keeps everyone else out; this makes the socket
        // itself 0600 as well. The umask is per process: launches take turns
        // (two at once, as the tests run them, restored each other's).
        let bound = {
            let _turn = UMASK_TURN.lock().unwrap_or_else(|e| e.into_inner());
            let old_umask = unsafe { libc::umask(0o177) };
            let bound = UnixListener::bind(&path);
            unsafe { libc::umask(old_umask) };
            bound
        };
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

/// How long a live server found at the socket's path has to go away.
const LIVE_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Who answers on the socket at `path`: None when nothing does (no socket
/// there, or one whose server is gone). The connect() does not block: a
/// server whose backlog is full is alive too.
pub(super) fn live_server(path: &Path) -> std::io::Result<Option<String>> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => {}
        Ok(_) => return Ok(None),
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    }
    let bytes = path.as_os_str().as_bytes();
    // SAFETY: a zeroed sockaddr_un is valid; the path is copied in with room
    // for its terminating NUL.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    if bytes.len() >= addr.sun_path.len() {
        return Err(std::io::Error::new(ErrorKind::InvalidInput, "socket path too long"));
    }
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (d, &b) in addr.sun_path.iter_mut().zip(bytes) {
        *d = b as libc::c_char;
    }
    // SAFETY: plain system calls on a descriptor owned right away.
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let stream = UnixStream::from(unsafe { OwnedFd::from_raw_fd(fd) });
    let len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
    let rc = unsafe { libc::connect(fd, (&addr as *const libc::sockaddr_un).cast(), len) };
    if rc == 0 {
        return Ok(Some(peer_of(&stream).map_or_else(|_| "its credentials unknown".into(), describe)));
    }
    let e = std::io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::ECONNREFUSED) | Some(libc::ENOENT) => Ok(None),
        Some(libc::EAGAIN) => Ok(Some("its backlog is full".into())),
        _ => Err(e),
    }
}

/// "pid N (comm), uid U" for a log line or an error.
pub(super) fn describe(peer: Peer) -> String {
    let comm = std::fs::read_to_string(format!("/proc/{}/comm", peer.pid)).unwrap_or_default();
    format!("pid {} ({}), uid {}", peer.pid, comm.trim(), peer.uid)
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
        // Ours and not a symlink, but not 0700: make it private.
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("making {} private", dir.display()))?;
    }
    Ok(())
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
            let mut conn = Connection::new(peer, default_top, limits, calls);
            conn.serve(&stream, &exit);
        });
        // The closure, slot included, is dropped if the thread cannot start.
        if let Err(e) = spawned {
            warn!("stats socket: cannot start a thread for a connection ({e})");
        }
    }
}
