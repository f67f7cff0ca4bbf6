//! A followed file store costs nothing while nothing changes: its own reads of the file are
//! not changes to look at again. (Linux: it reads this process's CPU time from `/proc`.)

#![cfg(target_os = "linux")]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use toggles::store::{FileStore, Store};

/// This process's CPU time so far (user and system), in clock ticks of 1/100 s.
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

#[test]
fn an_idle_followed_file_store_spends_no_cpu_and_still_hears_a_write_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("toggles.json");
    // A poll far longer than the test: only the operating system's events can wake it.
    let store = FileStore::open_with_poll(&path, Duration::from_secs(60)).unwrap();
    store.load().unwrap();
    let heard = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&heard);
    store
        .watch(Arc::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        }))
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));

    let before = cpu_ticks();
    std::thread::sleep(Duration::from_secs(2));
    let spent = cpu_ticks() - before;
    assert!(
        spent <= 10,
        "idle for 2 s, the process spent {spent} ticks (1/100 s) of CPU"
    );
    assert_eq!(heard.load(Ordering::SeqCst), 0, "nothing changed");

    // Another handle writes: the event wakes the follower long before its poll.
    let writer = FileStore::open(&path).unwrap();
    let wrote = Instant::now();
    writer
        .update(&mut |snapshot| {
            snapshot
                .switches
                .insert("catalog.recommendations".to_owned(), false.into());
            Ok(toggles::store::AuditEntry::new(
                "catalog.recommendations",
                "ops",
                "test",
            ))
        })
        .unwrap();
    while heard.load(Ordering::SeqCst) == 0 {
        assert!(
            wrote.elapsed() < Duration::from_secs(5),
            "the write is heard"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}
