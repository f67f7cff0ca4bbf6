//! The JSON file store.

use std::fs::{self, File, OpenOptions};
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use crate::compile::Snapshot;
use crate::stores::{
    AuditEntry, AuditQuery, Converted, Declarations, ExperimentCounts, Experiments, Exposed,
    Feedback, FeedbackBook, FeedbackLog, OnChange, Published, Store, StoreError, Usage, UsageBook,
    Use, WriteError, FORGET_AFTER,
};
use crate::targeting::Timestamp;

/// A store kept in a JSON file: one file of toggle states shared by the processes of a machine,
/// hot-reloaded, written atomically, with an append-only audit log beside it.
///
/// - `toggles.json` holds the [`Snapshot`] as JSON. Edit it by hand or through
///   [`write`](crate::write); a change on disk is in force within milliseconds in every process
///   that installed the store: the operating system says when the file's directory changes
///   (inotify, FSEvents, ReadDirectoryChangesW). A poll every second (or as
///   [`open_with_poll`](FileStore::open_with_poll) says) catches what events miss — a network
///   file system sends none — and is all there is where no watcher can be started.
/// - A file deleted or unreadable is reported ([`status`](crate::status)) while the last good
///   state stays in force; once the file is back, its contents take effect.
/// - A write takes an exclusive lock on `toggles.json.lock`, so writers in several processes
///   never lose each other's changes; the poll reads under a shared one, so readers never wait
///   for each other. It writes a temporary file, flushes it to disk and renames
///   it over `toggles.json`, so a reader sees the old file or the new one, never half of one.
/// - Then it appends one JSON line to `toggles.json.audit` and flushes it. If that append fails,
///   the old `toggles.json` is put back and the write fails: a failed write changed nothing.
/// - A `toggles.json` that does not parse never takes effect: the last good state stays in
///   force, the error is reported through `tracing` and [`status`](crate::status), and writes
///   are refused rather than written over it. One entry that does not fit the program is set
///   aside on its own (its toggle keeps its last good state) and the rest takes effect.
/// - `toggles.json.fleet` holds the declarations each process published when it installed the
///   store (a JSON array, replaced atomically under the lock), for a fleet report; an instance
///   not seen for a week ([`forget_instances_after`](FileStore::forget_instances_after)) is
///   left out and dropped at the next publish or heartbeat.
/// - The audit log never decides whether the state loads. A line that does not parse — the torn
///   last line a crash in the middle of an append leaves — is set aside with a warning when the
///   log is read, and the next append starts on a fresh line.
///
/// ```
/// use toggles::Change;
/// use toggles::store::FileStore;
///
/// let dir = tempfile::tempdir().unwrap();
/// let store = FileStore::open(dir.path().join("toggles.json")).unwrap();
/// assert_eq!(store.audit_path(), dir.path().join("toggles.json.audit"));
/// let _toggles = toggles::install(store).unwrap();
/// ```
pub struct FileStore {
    inner: Arc<Inner>,
    /// How long an instance's declarations are kept after it was last seen.
    forget_after: Duration,
}

impl std::fmt::Debug for FileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileStore")
            .field("path", &self.inner.path)
            .field("poll", &self.inner.poll)
            .finish_non_exhaustive()
    }
}

struct Inner {
    path: PathBuf,
    audit_path: PathBuf,
    fleet_path: PathBuf,
    lock_path: PathBuf,
    poll: Duration,
    /// What this handle last loaded or wrote: the poll reports a change when the file differs
    /// from it, so nothing written between a load and the poll's start is missed.
    seen: Mutex<Option<Read>>,
    watchers: Mutex<Vec<OnChange>>,
    /// Exposures and conversions of experiments: a JSON line each, appended.
    experiments_path: PathBuf,
    /// Feedback, as kept (bounded per toggle): one JSON document, rewritten whole.
    feedback_path: PathBuf,
    /// The fleet's evaluations per toggle and service: one JSON document, rewritten whole at
    /// each instance's heartbeat.
    usage_path: PathBuf,
}

/// What reading the store's file gave: its bytes, or the kind of error.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Read {
    Bytes(Vec<u8>),
    Failed(std::io::ErrorKind),
}

impl Read {
    fn of(path: &Path) -> Read {
        fs::read(path).map_or_else(|e| Read::Failed(e.kind()), Read::Bytes)
    }
}

impl FileStore {
    /// Opens the store at `path`, creating an empty one if there is no file yet.
    pub fn open(path: impl Into<PathBuf>) -> Result<FileStore, StoreError> {
        FileStore::open_with_poll(path, Duration::from_secs(1))
    }

    /// Opens the store, checking the file for changes every `poll` besides when the operating
    /// system says it changed.
    pub fn open_with_poll(
        path: impl Into<PathBuf>,
        poll: Duration,
    ) -> Result<FileStore, StoreError> {
        let path = path.into();
        let with_suffix = |suffix: &str| {
            let mut p = path.clone().into_os_string();
            p.push(suffix);
            PathBuf::from(p)
        };
        let inner = Inner {
            audit_path: with_suffix(".audit"),
            fleet_path: with_suffix(".fleet"),
            lock_path: with_suffix(".lock"),
            experiments_path: with_suffix(".experiments"),
            feedback_path: with_suffix(".feedback"),
            usage_path: with_suffix(".usage"),
            path,
            poll,
            seen: Mutex::new(None),
            watchers: Mutex::new(Vec::new()),
        };
        if !inner.path.exists() {
            let _lock = inner.lock()?;
            if !inner.path.exists() {
                replace(&inner.path, &bytes_of(&Snapshot::default()))?;
            }
        }
        Ok(FileStore {
            inner: Arc::new(inner),
            forget_after: FORGET_AFTER,
        })
    }

    /// Forgets an instance's declarations once it has not been seen for `after` ([`FORGET_AFTER`],
    /// a week, by default).
    #[must_use]
    pub fn forget_instances_after(mut self, after: Duration) -> FileStore {
        self.forget_after = after;
        self
    }

    /// The store's file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The audit log's file.
    pub fn audit_path(&self) -> &Path {
        &self.inner.audit_path
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_owned(),
        source,
    }
}

fn bytes_of(snapshot: &Snapshot) -> Vec<u8> {
    let mut json = serde_json::to_vec_pretty(snapshot).expect("a snapshot serializes");
    json.push(b'\n');
    json
}

/// Replaces `path` atomically: temp file, fsync, rename, fsync of the directory.
fn replace(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let mut tmp = path.to_owned().into_os_string();
    tmp.push(format!(".tmp.{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let mut file = File::create(&tmp).map_err(io(&tmp))?;
    file.write_all(bytes).map_err(io(&tmp))?;
    file.sync_all().map_err(io(&tmp))?;
    fs::rename(&tmp, path).map_err(io(path))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // Makes the rename itself durable; not every platform can open a directory.
        if let Ok(dir) = File::open(dir) {
            let _ = dir.sync_all();
        }
    }
    Ok(())
}

/// Appends `line` (one or more lines, each ending in a newline) to the file at `path` and
/// flushes it to disk. A torn last line (no newline) is ended first, so the new lines stand on
/// their own.
fn append_lines(path: &Path, mut line: Vec<u8>) -> Result<(), StoreError> {
    let mut file = OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .open(path)
        .map_err(io(path))?;
    let len = file.metadata().map_err(io(path))?.len();
    if len > 0 {
        let mut last = [0u8];
        file.seek(SeekFrom::Start(len - 1)).map_err(io(path))?;
        file.read_exact(&mut last).map_err(io(path))?;
        if last[0] != b'\n' {
            line.insert(0, b'\n');
        }
    }
    file.write_all(&line).map_err(io(path))?;
    file.sync_data().map_err(io(path))
}

fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Inner {
    /// The exclusive lock that serializes writers across processes, held until dropped.
    fn lock(&self) -> Result<File, StoreError> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&self.lock_path)
            .map_err(io(&self.lock_path))?;
        file.lock().map_err(io(&self.lock_path))?;
        Ok(file)
    }

    /// The shared lock readers take, so that no write is half done while they read; held until
    /// dropped. A reader never creates the lock file: with no file there is no writer to wait
    /// for (and a directory being removed is not refilled).
    fn lock_shared(&self) -> Result<File, StoreError> {
        let file = File::open(&self.lock_path).map_err(io(&self.lock_path))?;
        file.lock_shared().map_err(io(&self.lock_path))?;
        Ok(file)
    }

    /// Reads and parses the file, remembering what it read as seen even when it does not parse
    /// or cannot be read, so the poll reports a bad or missing file once, not at every tick.
    fn read(&self) -> Result<(Vec<u8>, Snapshot), StoreError> {
        let bytes = match fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) => {
                *locked(&self.seen) = Some(Read::Failed(e.kind()));
                return Err(io(&self.path)(e));
            }
        };
        *locked(&self.seen) = Some(Read::Bytes(bytes.clone()));
        let snapshot = serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
            path: self.path.clone(),
            message: e.to_string(),
        })?;
        Ok((bytes, snapshot))
    }

    /// The published declarations, updated by `change` under the lock.
    fn change_fleet(&self, change: impl FnOnce(&mut Vec<Published>)) -> Result<(), StoreError> {
        let _lock = self.lock()?;
        let mut fleet = self.fleet();
        change(&mut fleet);
        let bytes = serde_json::to_vec_pretty(&fleet).expect("declarations serialize");
        replace(&self.fleet_path, &bytes)
    }

    /// Appends `records` to the experiments' file, a line each, under the store's lock.
    fn append_experiments<T: serde::Serialize>(
        &self,
        kind: &str,
        records: &[T],
    ) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let mut lines = Vec::new();
        for record in records {
            let line = serde_json::json!({ kind: record });
            serde_json::to_writer(&mut lines, &line).expect("a record serializes");
            lines.push(b'\n');
        }
        let _lock = self.lock()?;
        append_lines(&self.experiments_path, lines)
    }

    /// Every exposure and conversion the experiments' file holds, folded as a database keeps
    /// them (a line that does not read, as a crash mid-append leaves, is set aside).
    /// The feedback file's book: empty when there is no file; an error when it does not read,
    /// so a write never replaces feedback it could not read.
    fn feedback_book(&self) -> Result<FeedbackBook, StoreError> {
        let path = &self.feedback_path;
        match fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                StoreError::backend(format!("{} is not a feedback file: {e}", path.display()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(FeedbackBook::default()),
            Err(e) => Err(io(path)(e)),
        }
    }

    fn usage_book(&self) -> Result<UsageBook, StoreError> {
        let path = &self.usage_path;
        match fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                StoreError::backend(format!("{} is not a usage file: {e}", path.display()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(UsageBook::default()),
            Err(e) => Err(io(path)(e)),
        }
    }

    fn experiments(&self) -> Result<Experiments, StoreError> {
        let _lock = self.lock_shared()?;
        let path = &self.experiments_path;
        let text = match fs::read(path) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Experiments::default()),
            Err(e) => return Err(io(path)(e)),
        };
        let mut experiments = Experiments::default();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let Ok(record) = serde_json::from_str::<serde_json::Value>(line) else {
                tracing::warn!(path = %path.display(), "toggles: an experiments line set aside: not JSON (a crash in the middle of an append leaves a torn line)");
                continue;
            };
            if let Some(e) = record
                .get("exposed")
                .and_then(|e| serde_json::from_value(e.clone()).ok())
            {
                experiments.record_exposures(&[e]);
            } else if let Some(c) = record
                .get("converted")
                .and_then(|c| serde_json::from_value(c.clone()).ok())
            {
                experiments.record_conversions(&[c]);
            }
        }
        Ok(experiments)
    }

    /// The published declarations; none if the file is missing, and none (with a warning) if
    /// it does not parse, since the next publish rewrites it whole.
    fn fleet(&self) -> Vec<Published> {
        let Ok(bytes) = fs::read(&self.fleet_path) else {
            return Vec::new();
        };
        let all: Vec<serde_json::Value> = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            tracing::warn!(path = %self.fleet_path.display(), error = %e, "toggles: published declarations set aside: not valid JSON");
            Vec::new()
        });
        // Each instance on its own: one this version cannot read does not hide the others.
        all.into_iter()
            .filter_map(|json| {
                serde_json::from_value(json)
                    .map_err(|e| tracing::warn!(path = %self.fleet_path.display(), error = %e, "toggles: an instance's declarations set aside: not readable by this version"))
                    .ok()
            })
            .collect()
    }

    /// Appends one line to the audit log and flushes it to disk.
    fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let mut line = serde_json::to_vec(entry).expect("an audit entry serializes");
        line.push(b'\n');
        append_lines(&self.audit_path, line)
    }

    /// Every parseable entry of the audit log, oldest first.
    fn audit_entries(&self) -> Result<Vec<AuditEntry>, StoreError> {
        let path = &self.audit_path;
        let text = match fs::read(path) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(path)(e)),
        };
        let mut entries = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str(line) {
                Ok(entry) => entries.push(entry),
                Err(e) => tracing::warn!(
                    path = %path.display(),
                    line = i + 1,
                    error = %e,
                    "toggles: audit log line set aside: not an audit entry (a crash in the middle of an append leaves a torn line)"
                ),
            }
        }
        Ok(entries)
    }

    fn notify(&self) {
        let watchers = locked(&self.watchers).clone();
        for w in &watchers {
            w();
        }
    }
}

impl Store for FileStore {
    fn describe(&self) -> String {
        format!("file {}", self.inner.path.display())
    }

    fn load(&self) -> Result<Snapshot, StoreError> {
        self.inner.read().map(|(_, snapshot)| snapshot)
    }

    fn update(
        &self,
        edit: &mut dyn FnMut(&mut Snapshot) -> Result<AuditEntry, WriteError>,
    ) -> Result<AuditEntry, WriteError> {
        let inner = &self.inner;
        let _lock = inner.lock()?;
        // A corrupt file is not a base to write on: refuse rather than overwrite it.
        let (old, mut snapshot) = inner.read()?;
        let entry = edit(&mut snapshot)?;
        let new = bytes_of(&snapshot);
        replace(&inner.path, &new)?;
        // The file is replaced first, so an audit line never claims a change that is not there;
        // if the line cannot be written, the change is undone, so a failed write changed nothing.
        if let Err(e) = inner.append_audit(&entry) {
            if let Err(undo) = replace(&inner.path, &old) {
                tracing::error!(path = %inner.path.display(), error = %undo, "toggles: a write whose audit line failed could not be undone");
            }
            return Err(e.into());
        }
        *locked(&inner.seen) = Some(Read::Bytes(new));
        Ok(entry)
    }

    fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        Ok(query.select(self.inner.audit_entries()?.iter()))
    }

    fn publish(&self, declarations: &Declarations, at: Timestamp) -> Result<(), StoreError> {
        self.inner.change_fleet(|fleet| {
            Published::record(fleet, declarations, at, self.forget_after);
        })
    }

    fn seen(&self, instance: &str, at: Timestamp) -> Result<bool, StoreError> {
        let mut known = false;
        self.inner.change_fleet(|fleet| {
            known = Published::record_seen(fleet, instance, at, self.forget_after);
        })?;
        Ok(known)
    }

    /// A line each in the experiments' file beside the store's (`toggles.json.experiments`),
    /// appended under the store's lock: every process sharing the file counts together.
    fn record_exposures(&self, exposures: &[Exposed]) -> Result<bool, StoreError> {
        self.inner.append_experiments("exposed", exposures)?;
        Ok(true)
    }

    fn record_conversions(&self, conversions: &[Converted]) -> Result<bool, StoreError> {
        self.inner.append_experiments("converted", conversions)?;
        Ok(true)
    }

    /// Kept in a file beside the store's (`toggles.json.feedback`), read and written whole
    /// under the store's lock: feedback comes from people, a few pieces a minute, and the file
    /// stays bounded.
    fn record_feedback(&self, feedback: &Feedback) -> Result<bool, StoreError> {
        let _lock = self.inner.lock()?;
        let mut book = self.inner.feedback_book()?;
        book.record(feedback.clone());
        let bytes = serde_json::to_vec(&book).expect("feedback serializes");
        replace(&self.inner.feedback_path, &bytes)?;
        Ok(true)
    }

    fn feedback(&self, toggle: &str, limit: usize) -> Result<Option<FeedbackLog>, StoreError> {
        let _lock = self.inner.lock_shared()?;
        Ok(self.inner.feedback_book()?.log(toggle, limit))
    }

    /// Kept in a file beside the store's (`toggles.json.usage`), read and written whole under
    /// the store's lock, once per heartbeat of each instance: a few hundred bytes per toggle
    /// and service, whatever the traffic.
    fn record_usage(&self, service: &str, at: Timestamp, used: &[Use]) -> Result<bool, StoreError> {
        let _lock = self.inner.lock()?;
        let mut book = self.inner.usage_book()?;
        book.record(service, at, used);
        let bytes = serde_json::to_vec(&book).expect("usage serializes");
        replace(&self.inner.usage_path, &bytes)?;
        Ok(true)
    }

    fn usage(&self) -> Result<Option<Vec<Usage>>, StoreError> {
        let _lock = self.inner.lock_shared()?;
        Ok(Some(self.inner.usage_book()?.all()))
    }

    /// Reads the whole experiments' file: for an experiment of millions of units, PostgreSQL
    /// counts in the database.
    fn experiment_counts(&self, toggle: &str) -> Result<Option<ExperimentCounts>, StoreError> {
        Ok(self.inner.experiments()?.counts(toggle))
    }

    fn published(&self) -> Result<Vec<Published>, StoreError> {
        let now = Timestamp::now();
        let mut fleet = self.inner.fleet();
        fleet.retain(|p| !p.forgotten(now, self.forget_after));
        Ok(fleet)
    }

    fn watch(&self, on_change: OnChange) -> Result<(), StoreError> {
        let first = {
            let mut watchers = locked(&self.inner.watchers);
            watchers.push(on_change);
            watchers.len() == 1
        };
        if first {
            let weak = Arc::downgrade(&self.inner);
            let (wake, woken) = mpsc::channel();
            let events = os_events(&self.inner.path, wake);
            std::thread::Builder::new()
                .name("toggles-file-watch".to_owned())
                .spawn(move || follow(&weak, &woken, events))
                .map_err(io(&self.inner.path))?;
        }
        Ok(())
    }
}

/// Has the operating system wake the watch thread whenever something happens to `path` in its
/// directory (the file is replaced by a rename, so its directory is what is watched); `None`,
/// with a warning, where no watcher can be started: the poll alone then finds changes.
fn os_events(path: &Path, wake: mpsc::Sender<()>) -> Option<notify::RecommendedWatcher> {
    use notify::Watcher as _;

    let name = path.file_name().map(std::ffi::OsStr::to_owned);
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    let handler = move |event: notify::Result<notify::Event>| {
        let ours = match &event {
            // Reading the file is an event too (opened, read, closed unwritten): this thread's
            // own reads must not wake it, or it reads the file again and again. A writer
            // closing it is the end of a write, and wakes it.
            Ok(event)
                if matches!(
                    event.kind,
                    notify::EventKind::Access(access)
                        if access != notify::event::AccessKind::Close(notify::event::AccessMode::Write)
                ) =>
            {
                false
            }
            // A rescan, or an event about the file itself (the temp file renamed over it).
            Ok(event) => {
                event.paths.is_empty()
                    || event.paths.iter().any(|p| p.file_name() == name.as_deref())
            }
            Err(_) => true,
        };
        if ours {
            let _ = wake.send(());
        }
    };
    let started = notify::recommended_watcher(handler).and_then(|mut watcher| {
        watcher.watch(&dir, notify::RecursiveMode::NonRecursive)?;
        Ok(watcher)
    });
    match started {
        Ok(watcher) => Some(watcher),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "toggles: no file-system events for the store's file; polling alone finds changes");
            None
        }
    }
}

/// Compares the file with what this handle last saw — when the operating system says it
/// changed, and every poll interval in any case (so a rewrite within one mtime tick, or on a
/// file system that sends no events, is seen too) — and reports a content, or a failure to read
/// it (a deleted file), that differs; stops when the store is dropped.
fn follow(
    store: &Weak<Inner>,
    woken: &mpsc::Receiver<()>,
    events: Option<notify::RecommendedWatcher>,
) {
    // Kept alive for as long as the thread follows the file.
    let _events = events;
    loop {
        let Some(inner) = store.upgrade() else { return };
        let poll = inner.poll;
        // Under the writers' lock (shared), a write of this handle's is either wholly before the
        // read (file and `seen` both new) or wholly after it (both old): never reported as a
        // change. (A store in a directory it cannot write to has no writers to race with.)
        let lock = inner.lock_shared();
        let now = Read::of(&inner.path);
        // The reload the notification leads to reads the file, so what it finds becomes `seen`
        // (a bad or missing file included): each content is reported until it has been read.
        let changed = locked(&inner.seen).as_ref() != Some(&now);
        drop(lock);
        if changed {
            inner.notify();
        }
        drop(inner);
        match woken.recv_timeout(poll) {
            // A burst of events (a write is several) is one look.
            Ok(()) => while woken.try_recv().is_ok() {},
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            // The watcher is gone: the poll goes on alone.
            Err(mpsc::RecvTimeoutError::Disconnected) => std::thread::sleep(poll),
        }
    }
}
