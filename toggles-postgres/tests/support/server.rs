//! The PostgreSQL server tests use, and a fresh schema on it or a loud skip. Shared by the
//! tests of every crate that needs the server (`#[path]` from outside this crate).

use std::io::Write as _;

/// The server: `$TOGGLES_TEST_POSTGRES` (libpq's key=value form), or the local one with trust
/// authentication.
pub fn url() -> String {
    std::env::var("TOGGLES_TEST_POSTGRES")
        .unwrap_or_else(|_| "host=127.0.0.1 port=5432 user=postgres dbname=test".to_owned())
}

/// Schema `schema`, dropped if it was there, or `None` (said loudly) when no server answers on
/// a machine that does not require one. Under CI, or with `TOGGLES_REQUIRE_POSTGRES=1`, a
/// missing server fails the test instead.
pub fn fresh_schema(schema: &str) -> Option<String> {
    match postgres::Client::connect(&url(), postgres::NoTls) {
        Ok(mut client) => {
            client
                .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                .expect("the test schema can be dropped");
            Some(schema.to_owned())
        }
        Err(e) => {
            let required = std::env::var("TOGGLES_REQUIRE_POSTGRES").is_ok_and(|v| v == "1")
                || std::env::var("CI").is_ok_and(|v| v == "true");
            assert!(
                !required,
                "PostgreSQL is required here (CI or TOGGLES_REQUIRE_POSTGRES=1) but `{}` does not answer: {e}",
                url()
            );
            // Straight to the process's stderr: the test harness captures `eprintln!` of a
            // passing test, and a skip must be seen.
            let _ = writeln!(
                std::io::stderr(),
                "\n*** SKIPPED {schema}: no PostgreSQL server at `{}` ({e}). Start one, or set TOGGLES_TEST_POSTGRES. ***\n",
                url()
            );
            None
        }
    }
}
