//! The load program of the relay's scale figures in BENCHMARKS.md: N followers (10,000 by
//! default, `TOGGLES_FOLLOWERS`) open the sync stream of one `toggles serve`, then a change is
//! written to its store; it prints how long each follower took to hear of it, the relay's
//! resident memory per idle follower, and its CPU while idle. Not run by `cargo test`:
//!
//! ```sh
//! cargo test --release -p toggles-cli --test followers -- --ignored --nocapture
//! ```

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{experiment_fleet, file_store, stderr, toggles};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// A process's resident memory, in KiB.
fn resident_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/PID/status")
}

/// A process's CPU time so far (user and system), in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let (user, system) = cpu_split(pid);
    user + system
}

/// A process's CPU time so far in user space and in the kernel, in clock ticks.
fn cpu_split(pid: u32) -> (u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The fields after the command's closing parenthesis; utime and stime are the 12th and 13th.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    (fields[11].parse().unwrap(), fields[12].parse().unwrap())
}

/// Reads from `stream` until `events` whole server-sent events have arrived. Only the bytes
/// new since the last read are searched (with the overlap a marker may straddle): the load
/// program shares the relay's two cores, and rescanning every follower's whole stream on each
/// read would be its time counted as the relay's.
async fn read_events(stream: &mut TcpStream, seen: &mut Vec<u8>, events: usize) {
    const MARK: &[u8] = b"event: snapshot";
    let mut buf = [0u8; 8192];
    let mut counted = 0;
    let mut scanned = 0;
    loop {
        counted += seen[scanned..]
            .windows(MARK.len())
            .filter(|w| *w == MARK)
            .count();
        scanned = seen.len().saturating_sub(MARK.len() - 1).max(scanned);
        if counted >= events {
            return;
        }
        let n = stream
            .read(&mut buf)
            .await
            .expect("the relay keeps the stream");
        assert!(n > 0, "the relay closed a stream");
        seen.extend_from_slice(&buf[..n]);
    }
}

/// When each follower heard of the change.
type Heard = Arc<std::sync::Mutex<Vec<Instant>>>;

/// Opens `followers` sync streams to `addr`, 500 at a time, each noting in `heard` when the
/// snapshot after its first arrives; how long until all had their first.
fn open(
    runtime: &tokio::runtime::Runtime,
    addr: std::net::SocketAddr,
    followers: usize,
    heard: &Heard,
) -> Duration {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let opened = Instant::now();
    runtime.block_on(async {
        for batch in 0..followers.div_ceil(500) {
            let mut connecting = Vec::new();
            for _ in 0..500.min(followers - batch * 500) {
                let heard = Arc::clone(heard);
                let ready = ready_tx.clone();
                connecting.push(tokio::spawn(async move {
                    let mut stream = TcpStream::connect(addr).await.unwrap();
                    stream
                        .write_all(b"GET /sync/v1/stream HTTP/1.1\r\nHost: relay\r\nAccept: text/event-stream\r\n\r\n")
                        .await
                        .unwrap();
                    let mut seen = Vec::new();
                    read_events(&mut stream, &mut seen, 1).await;
                    ready.send(()).unwrap();
                    // Then the change: a second event after the first.
                    seen.clear();
                    tokio::spawn(async move {
                        read_events(&mut stream, &mut seen, 1).await;
                        heard.lock().unwrap().push(Instant::now());
                    });
                }));
            }
            for c in connecting {
                c.await.unwrap();
            }
        }
    });
    for _ in 0..followers {
        ready_rx.recv().unwrap();
    }
    opened.elapsed()
}

#[test]
#[ignore = "a load program: run it with --ignored --nocapture (see the file's doc)"]
fn followers_of_one_relay() {
    let followers: usize = std::env::var("TOGGLES_FOLLOWERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(dir.path(), &experiment_fleet());
    let mut relay = Command::new(assert_cmd::cargo::cargo_bin("toggles"))
        .args(["--store", &store, "serve", "--listen", "127.0.0.1:0"])
        .args(["--max-connections", &(followers + 100).to_string()])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = relay.id();
    let mut lines = BufReader::new(relay.stderr.take().unwrap()).lines();
    let addr: std::net::SocketAddr = loop {
        let line = lines.next().unwrap().unwrap();
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.trim_end_matches('/').parse().unwrap();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    std::thread::sleep(Duration::from_millis(300));
    let before = resident_kib(pid);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let heard: Heard = Arc::default();
    let connected_in = open(&runtime, addr, followers, &heard);
    std::thread::sleep(Duration::from_secs(1));
    let after = resident_kib(pid);
    let idle_from = cpu_ticks(pid);
    std::thread::sleep(Duration::from_secs(10));
    let idle_ticks = cpu_ticks(pid) - idle_from;

    let busy_from = cpu_split(pid);
    let load_from = cpu_split(std::process::id());
    let wrote = Instant::now();
    let set = toggles(&store)
        .args([
            "set",
            "catalog.recommendations",
            "off",
            "--reason",
            "load",
            "--actor",
            "ops",
        ])
        .output()
        .unwrap();
    let set_took = wrote.elapsed();
    assert!(set.status.success(), "{}", stderr(&set));
    let deadline = Instant::now() + Duration::from_secs(30);
    while heard.lock().unwrap().len() < followers {
        assert!(
            Instant::now() < deadline,
            "only {} of {followers} heard",
            heard.lock().unwrap().len()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let busy = cpu_split(pid);
    let busy = (busy.0 - busy_from.0, busy.1 - busy_from.1);
    let load = cpu_split(std::process::id());
    let load = (load.0 - load_from.0, load.1 - load_from.1);
    let mut took: Vec<Duration> = heard.lock().unwrap().iter().map(|t| *t - wrote).collect();
    took.sort();
    let at = |percent: usize| took[(took.len() - 1) * percent / 100];
    #[allow(clippy::cast_precision_loss)]
    let per_follower = (after.saturating_sub(before)) as f64 / followers as f64;
    println!("{followers} followers connected in {connected_in:?}");
    println!(
        "a change reached them: median {:?}, p99 {:?}, slowest {:?} (the `toggles set` process included)",
        at(50),
        at(99),
        at(100)
    );
    println!(
        "of which the `toggles set` process took {set_took:?}; the first follower heard after {:?}",
        took[0]
    );
    println!("relay resident memory: {before} KiB before, {after} KiB with them: {per_follower:.1} KiB per idle follower");
    println!("relay CPU while idle: {idle_ticks} ticks (1/100 s) in 10 s");
    println!(
        "relay CPU while the change went out: {} ticks (1/100 s) in user space, {} in the kernel",
        busy.0, busy.1
    );
    println!(
        "this load program's CPU meanwhile: {} ticks in user space, {} in the kernel",
        load.0, load.1
    );
    drop(runtime);
    let _ = relay.kill();
    let _ = relay.wait();
}
