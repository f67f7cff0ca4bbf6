//! Builds the fixture crates under `tests/fixtures/` with the cargo running the tests.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Runs `cargo <args>` in `dir`, building into one shared target directory so the fixtures
/// compile the toggles crates once between them.
pub fn cargo(dir: &Path, args: &[&str]) -> Output {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fixtures");
    let out = Command::new(cargo)
        .args(args)
        .arg("--target-dir")
        .arg(target)
        .current_dir(dir)
        .env("CARGO_TERM_COLOR", "never")
        .output()
        .expect("cargo runs");
    Output {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
