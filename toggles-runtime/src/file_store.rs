//! The JSON file store: one file of toggle states shared by the processes of a machine,
//! hot-reloaded, written atomically, with an append-only audit log beside it.
//!
//! - `toggles.json` holds the [`Snapshot`] as JSON. Edit it by hand or through
//!   [`write`](crate::write); a change on disk is in force within the poll interval (250 ms by
//!   default).
//! - Writes take an exclusive lock on `toggles.json.lock`, so writers in several processes
//!   never lose each other's changes; they write a temporary file, flush it to disk and rename
//!   it over `toggles.json`, so a reader sees the old file or the new one, never half of one.
//! - `toggles.json.audit` gets one JSON line per accepted change, appended and flushed.
//! - A file that does not parse, or holds entries that do not fit the program, never takes
//!   effect: the last good state stays in force and the error is reported through `tracing`
//!   and [`status`](crate::status).

use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use crate::store::{AuditEntry, OnChange, Store, StoreError, WriteError};
use crate::Snapshot;

/// A store kept in a JSON file. See the [module docs](self).
///
/// ```
/// use toggles::{Change, FileStore};
///
/// let dir = tempfile::tempdir().unwrap();
/// let store = FileStore::open(dir.path().join("toggles.json")).unwrap();
/// toggles::install(store).unwrap();
/// # let _ = Change::reset("x");
/// ```
pub struct FileStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    audit_path: PathBuf,
    lock_path: PathBuf,
    poll: Duration,
    watchers: Mutex<Vec<OnChange>>,
}

impl FileStore {
    /// Opens the store at `path`, creating an empty one if there is no file yet.
    pub fn open(path: impl Into<PathBuf>) -> Result<FileStore, StoreError> {
        FileStore::open_with_poll(path, Duration::from_millis(250))
    }

    /// Opens the store, checking the file for changes every `poll`.
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
            lock_path: with_suffix(".lock"),
            path,
            poll,
            watchers: Mutex::new(Vec::new()),
        };
        if !inner.path.exists() {
            let _lock = inner.lock()?;
            if !inner.path.exists() {
                inner.replace(&Snapshot::default())?;
            }
        }
        Ok(FileStore {
            inner: Arc::new(inner),
        })
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

    fn read(&self) -> Result<(Vec<u8>, Snapshot), StoreError> {
        let bytes = fs::read(&self.path).map_err(io(&self.path))?;
        let snapshot = serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
            path: self.path.clone(),
            message: e.to_string(),
        })?;
        Ok((bytes, snapshot))
    }

    /// Replaces the file atomically: temp file, fsync, rename, fsync of the directory.
    fn replace(&self, snapshot: &Snapshot) -> Result<(), StoreError> {
        let mut json = serde_json::to_vec_pretty(snapshot).expect("a snapshot serializes");
        json.push(b'\n');
        let mut tmp = self.path.clone().into_os_string();
        tmp.push(format!(".tmp.{}", std::process::id()));
        let tmp = PathBuf::from(tmp);
        let mut file = File::create(&tmp).map_err(io(&tmp))?;
        file.write_all(&json).map_err(io(&tmp))?;
        file.sync_all().map_err(io(&tmp))?;
        fs::rename(&tmp, &self.path).map_err(io(&self.path))?;
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // Makes the rename itself durable; not every platform can open a directory.
            if let Ok(dir) = File::open(dir) {
                let _ = dir.sync_all();
            }
        }
        Ok(())
    }

    fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let mut line = serde_json::to_vec(entry).expect("an audit entry serializes");
        line.push(b'\n');
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.audit_path)
            .map_err(io(&self.audit_path))?;
        file.write_all(&line).map_err(io(&self.audit_path))?;
        file.sync_data().map_err(io(&self.audit_path))
    }

    fn notify(&self) {
        let watchers = self
            .watchers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
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
        let entry = {
            let _lock = inner.lock()?;
            // A corrupt file is not a base to write on: refuse rather than overwrite it.
            let (_, mut snapshot) = inner.read()?;
            let entry = edit(&mut snapshot)?;
            inner.replace(&snapshot)?;
            // The file is replaced first: an audit line never claims a change that is not there.
            inner.append_audit(&entry)?;
            entry
        };
        inner.notify();
        Ok(entry)
    }

    fn audit_log(&self) -> Result<Vec<AuditEntry>, StoreError> {
        let path = &self.inner.audit_path;
        let text = match fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(path)(e)),
        };
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .enumerate()
            .map(|(i, line)| {
                serde_json::from_str(line).map_err(|e| StoreError::Corrupt {
                    path: path.clone(),
                    message: format!("line {}: {e}", i + 1),
                })
            })
            .collect()
    }

    fn watch(&self, on_change: OnChange) -> Result<(), StoreError> {
        let first = {
            let mut watchers = self
                .inner
                .watchers
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            watchers.push(on_change);
            watchers.len() == 1
        };
        if first {
            let weak = Arc::downgrade(&self.inner);
            let seen = fs::read(&self.inner.path).ok();
            std::thread::Builder::new()
                .name("toggles-file-watch".to_owned())
                .spawn(move || poll(&weak, seen))
                .map_err(io(&self.inner.path))?;
        }
        Ok(())
    }
}

/// Compares the file's bytes every poll interval, so a rewrite within one mtime tick is seen
/// too; stops when the store is dropped.
fn poll(store: &Weak<Inner>, mut seen: Option<Vec<u8>>) {
    loop {
        let Some(inner) = store.upgrade() else { return };
        let poll = inner.poll;
        let now = fs::read(&inner.path).ok();
        if now != seen {
            seen = now;
            inner.notify();
        }
        drop(inner);
        std::thread::sleep(poll);
    }
}
