//! `Setting<&'static str>` hands out `&'static str`, so each distinct string a store gives it is
//! kept for good: a process keeps at most 1 MiB of them, and past that a new string is refused
//! (a write) or set aside (a load), never kept.

mod support;

use toggles::store::Store;
use toggles::store::{MemoryStore, Snapshot};
use toggles::{toggle, Change, Setting};

/// Greeting on the home page.
#[toggle(
    namespace = "home",
    life = "permanent",
    justification = "per deployment"
)]
static GREETING: Setting<&'static str> = "Welcome";

#[test]
fn a_writer_cannot_grow_the_process_without_limit() {
    let store = std::sync::Arc::new(MemoryStore::new());
    let toggles = toggles::install(store.clone()).unwrap();
    let text = |i: usize| format!("{i:03}").repeat(100 * 1024 / 3);
    let mut accepted = 0;
    let refusal = loop {
        match toggles::write(
            Change::setting("home.greeting", text(accepted))
                .by("ops")
                .because("copy"),
        ) {
            Ok(_) => accepted += 1,
            Err(e) => break e.to_string(),
        }
        assert!(accepted < 100, "never refused");
    };
    assert_eq!(accepted, 10, "10 strings of 100 KiB fit in 1 MiB");
    assert_eq!(
        refusal,
        "write refused: `home.greeting` cannot take a new string: this process keeps the strings its `&'static str` settings were given for good, and already keeps 1024 KiB of them (a restart starts afresh)"
    );
    assert_eq!(GREETING.get(), text(9), "the last accepted value stays");
    // A string kept already costs nothing more.
    toggles::write(
        Change::setting("home.greeting", text(3))
            .by("ops")
            .because("back"),
    )
    .unwrap();
    assert_eq!(GREETING.get(), text(3));

    // A new string that arrives by a load is set aside: the last good value stays.
    let mut snapshot = Snapshot::default();
    snapshot
        .settings
        .insert("home.greeting".into(), text(50).into());
    store
        .update(&mut |s| {
            *s = snapshot.clone();
            Ok(toggles::store::AuditEntry::new(
                "home.greeting",
                "elsewhere",
                "behind the runtime's back",
            ))
        })
        .unwrap();
    toggles.reload().unwrap();
    assert_eq!(GREETING.get(), text(3));
    let status = toggles::status();
    assert_eq!(status.invalid_entries.len(), 1);
    assert!(status.invalid_entries[0]
        .message
        .starts_with("cannot take a new string"));
}
