// SPDX-License-Identifier: GPL-2.0
//! Host tests of the control socket: no BPF needed behind it.

use std::io::{ErrorKind, Write as _};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use scx_stats::prelude::*;
use scx_stats_derive::Stats;
use serde::{Deserialize, Serialize};

use super::client::{client_at, openmetrics_at};
use super::connection::{Connection, Peer};
use super::server::live_server;
use super::wire::SetResult;
use super::*;
use crate::openmetrics::tests::parse;
use crate::stats::tests::{raw, task};
use crate::stats::{Metrics, NR_COUNTERS};

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
    let conn = |peer| Connection::new(peer, 3, quick_limits(), tx.clone());
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

/// Another scheduler's report, served by scx_stats' own server (as scx_bpfland
/// and the others serve theirs at the same default path).
#[derive(Clone, Debug, Default, Serialize, Deserialize, Stats)]
#[stat(top)]
struct OtherMetrics {
    #[stat(desc = "Runnable tasks")]
    nr_running: u64,
}

fn other_scheduler(path: &Path) -> StatsServer<(), ()> {
    let data = StatsServerData::new()
        .add_meta(OtherMetrics::meta())
        .add_stats("top", Box::new(|_, _| OtherMetrics { nr_running: 7 }.to_json()));
    StatsServer::new(data).set_path(path).launch().unwrap()
}

/// Until `path` has no live server behind it (at most 5 s).
fn wait_dead(path: &Path) -> bool {
    let t = Instant::now();
    while live_server(path).unwrap().is_some() {
        if t.elapsed() > Duration::from_secs(5) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

#[test]
fn another_schedulers_live_server_is_left_alone_and_its_dead_socket_replaced() {
    let base = scratch("other");
    let dir = base.join("root");
    let path = dir.join("stats");
    let other = other_scheduler(&path);
    let me = format!("pid {}", std::process::id());

    // Our clients name it rather than misread it.
    let why = format!("{:#}", client_at(&path).err().expect("a client accepted another scheduler"));
    assert!(why.contains("another scheduler's stats server") && why.contains(&me), "{why}");
    // Our server does not take its socket over...
    let (tx, rx) = mpsc::channel();
    let answers = fake_loop(rx);
    let why = format!("{:#}", Server::launch(&dir, 3, quick_limits(), tx.clone()).err().expect("took over a live socket"));
    assert!(why.contains("served by another live process") && why.contains(&me), "{why}");
    // ... which goes on serving its own clients.
    let mut c = StatsClient::new().set_path(&path).connect(Some(5000)).unwrap();
    assert_eq!(c.request::<OtherMetrics>("stats", vec![]).unwrap().nr_running, 7);
    drop(c);

    // scx_stats leaves its socket behind when it stops: a dead one, replaced.
    drop(other);
    assert!(wait_dead(&path), "scx_stats' server still answers after its drop");
    assert!(path.exists());
    let server = Server::launch(&dir, 3, quick_limits(), tx).unwrap();
    assert_eq!((mode(&dir), mode(&path)), (0o700, 0o600));
    // A client that names no path at all would now read scx_fairrs.
    let (mut c, _) = client_at(&path).unwrap();
    assert_eq!(c.request::<Metrics>("stats", vec![]).unwrap().nr_cpus, 2);
    drop(c);
    drop(server);
    assert!(answers.join().unwrap().is_empty());
    let _ = std::fs::remove_dir_all(&base);
}

#[test]
fn a_second_server_leaves_a_live_one_alone() {
    let (base, first, answers) = launch("second", quick_limits());
    let path = first.path().to_path_buf();
    let inode = std::fs::symlink_metadata(&path).unwrap().ino();
    let why = match Server::launch(path.parent().unwrap(), 3, quick_limits(), mpsc::channel().0) {
        Ok(_) => panic!("a second server took over a live socket"),
        Err(e) => format!("{e:#}"),
    };
    assert!(why.contains("served by another live process"), "{why}");
    assert_eq!(std::fs::symlink_metadata(&path).unwrap().ino(), inode, "the live socket was replaced");
    let (mut c, _) = client_at(&path).unwrap();
    let _: Metrics = c.request("stats", vec![]).unwrap();
    drop(c);
    drop(first);
    assert!(answers.join().unwrap().is_empty());
    let _ = std::fs::remove_dir_all(&base);
}

#[test]
fn the_metadata_a_client_receives_names_every_series() {
    let (base, server, answers) = launch("om", quick_limits());
    let path = server.path().to_path_buf();
    let (_, metas) = client_at(&path).unwrap();
    let user = |s: &str, f: Option<&str>, k: &str| {
        let m = &metas[s];
        let attrs = match f {
            Some(f) => &m.fields[f].attrs.user,
            None => &m.attrs.user,
        };
        attrs.get(k).cloned().unwrap_or_else(|| panic!("{s}.{f:?} has no {k}: {attrs:?}"))
    };
    assert_eq!(user("Metrics", None, "_om_prefix"), "fairrs_");
    assert_eq!(user("Metrics", Some("events_per_s"), "_om_label"), "event");
    assert_eq!(user("Metrics", Some("tunables"), "_om_label"), "tunable");
    for (s, prefix, label, field) in [
        ("CpuMetrics", "fairrs_cpu_", "cpu", "cpu"),
        ("TaskMetrics", "fairrs_task_", "pid", "pid"),
        ("GroupMetrics", "fairrs_group_", "cgroup", "path"),
    ] {
        assert_eq!(user(s, None, "_om_prefix"), prefix);
        assert_eq!(user(s, None, "_om_label"), label);
        assert_eq!(user(s, Some(field), "_om_label"), label);
        assert_eq!(user(s, Some(field), "_om_skip"), "true");
    }
    assert_eq!(user("TaskMetrics", Some("comm"), "_om_label"), "comm");

    // --openmetrics, end to end: what the fake scheduler reported, labelled.
    let text = openmetrics_at(&path, 3, Duration::from_millis(50)).unwrap();
    let samples = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let value = |name: &str, labels: &[(&str, &str)]| {
        let labels: Vec<(String, String)> = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        samples.iter().find(|s| s.0 == name && s.1 == labels).map(|s| s.2)
    };
    assert_eq!(value("fairrs_nr_cpus", &[]), Some(2.0), "{text}");
    assert_eq!(value("fairrs_cpu_util_avg", &[("cpu", "0")]), Some(1000.0), "{text}");
    assert_eq!(value("fairrs_cpu_util_avg", &[("cpu", "1")]), Some(500.0), "{text}");
    assert_eq!(value("fairrs_cpu_util_avg", &[("cpu", "2")]), None, "an offline CPU has no series:\n{text}");
    assert_eq!(value("fairrs_task_weight", &[("comm", "t1"), ("pid", "1")]), Some(1024.0), "{text}");
    assert!(value("fairrs_events_per_s", &[("event", "enqueue")]).is_some(), "{text}");
    drop(server);
    assert!(answers.join().unwrap().is_empty());
    let _ = std::fs::remove_dir_all(&base);
}
