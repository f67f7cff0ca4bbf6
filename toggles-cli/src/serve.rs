//! `toggles serve`: one server for a fleet's toggles over its store — the admin pages, the JSON
//! API and OFREP evaluated against the declarations the fleet published, with probes, metrics,
//! limits and a graceful shutdown — for clients in any language with no Rust service in the path.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _, Result};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use serde::Deserialize;
use toggles_http::{BearerTokens, Config, OfrepMetadata, RateLimit, Streams, TokenFile};
use toggles_runtime::fleet::{adopt, Published, Store};
use toggles_runtime::{Installer, Service, Timestamp};

use crate::metrics::Metrics;
use crate::server::{Limits, Server};
use crate::source::StoreArgs;
use crate::Outcome;

/// Serve the fleet's toggles over HTTP: admin pages, JSON API, OFREP, probes and metrics.
///
/// Every option can also come from the environment (`TOGGLES_LISTEN`, …) or from a TOML file
/// (`--config`, keys named as the options with `_` for `-`); an option given on the command
/// line or in the environment wins over the file.
#[derive(clap::Args, Debug, Default)]
pub(crate) struct Args {
    /// A TOML file of options: `listen = "0.0.0.0:8080"`, `tokens = "tokens.json"`, …
    #[arg(long, env = "TOGGLES_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// The address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "TOGGLES_LISTEN", value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// A JSON file of bearer tokens: `{"<token>": {"id": "ana", "teams": ["grading-team"],
    /// "scopes": ["read", "write"]}}`. Without it nobody can sign in or write.
    #[arg(long, env = "TOGGLES_TOKENS", value_name = "FILE")]
    tokens: Option<PathBuf>,
    /// A file holding the 32-byte secret (64 hex digits) that signs admin sessions: replicas
    /// given one file accept each other's sessions and forms.
    #[arg(long, env = "TOGGLES_KEY_FILE", value_name = "FILE")]
    key_file: Option<PathBuf>,
    /// Lets pages on this origin call OFREP from a browser (repeat for more).
    #[arg(
        long = "allow-origin",
        env = "TOGGLES_ALLOW_ORIGINS",
        value_delimiter = ',',
        value_name = "ORIGIN"
    )]
    allow_origins: Vec<String>,
    /// Reads need a credential too: the report, each toggle, OFREP, the admin pages.
    #[arg(long, env = "TOGGLES_REQUIRE_CREDENTIALS")]
    require_credentials: bool,
    /// What OFREP answers tell anonymous clients: `public` (kind and arms) or `full` (also
    /// owner, life and source).
    #[arg(long, env = "TOGGLES_OFREP_METADATA", value_name = "WHAT")]
    ofrep_metadata: Option<Metadata>,
    /// The most connections open at once; more wait in the listen queue [default: 10000].
    #[arg(long, env = "TOGGLES_MAX_CONNECTIONS", value_name = "N")]
    max_connections: Option<usize>,
    /// A connection that sends no whole request head within this (a new one, or one kept
    /// alive between requests) is closed [default: 10s].
    #[arg(long, env = "TOGGLES_HEADER_TIMEOUT", value_parser = humantime::parse_duration, value_name = "DURATION")]
    header_timeout: Option<Duration>,
    /// Requests a second each client may make to OFREP and feedback, answered `429` with
    /// `Retry-After` past it; a client is its principal, else its address [default: no limit].
    #[arg(long, env = "TOGGLES_RATE_LIMIT", value_name = "PER_SECOND")]
    rate_limit: Option<u32>,
    /// Requests a quiet client may make at once [default: the rate limit].
    #[arg(
        long,
        env = "TOGGLES_RATE_BURST",
        value_name = "N",
        requires = "rate_limit"
    )]
    rate_burst: Option<u32>,
    /// A proxy in front sets `X-Forwarded-For`: rate-limit by the address it names first.
    #[arg(long, env = "TOGGLES_BEHIND_PROXY")]
    behind_proxy: bool,
    /// On SIGTERM, how long open requests have to finish once streams are closed [default: 20s].
    #[arg(long, env = "TOGGLES_SHUTDOWN_GRACE", value_parser = humantime::parse_duration, value_name = "DURATION")]
    shutdown_grace: Option<Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Metadata {
    Public,
    Full,
}

/// The options a `--config` file may give.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    listen: Option<SocketAddr>,
    tokens: Option<PathBuf>,
    key_file: Option<PathBuf>,
    #[serde(default)]
    allow_origins: Vec<String>,
    #[serde(default)]
    require_credentials: bool,
    ofrep_metadata: Option<Metadata>,
    max_connections: Option<usize>,
    #[serde(default, with = "humantime_serde_opt")]
    header_timeout: Option<Duration>,
    #[serde(default, with = "humantime_serde_opt")]
    shutdown_grace: Option<Duration>,
    rate_limit: Option<u32>,
    rate_burst: Option<u32>,
    #[serde(default)]
    behind_proxy: bool,
}

/// Durations in a config file are written as on the command line: `"10s"`, `"1m 30s"`.
mod humantime_serde_opt {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|text| humantime::parse_duration(&text).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// The options in force: the command line and environment over the file over the defaults.
#[derive(Debug)]
struct Options {
    listen: SocketAddr,
    tokens: Option<PathBuf>,
    key_file: Option<PathBuf>,
    allow_origins: Vec<String>,
    require_credentials: bool,
    ofrep_metadata: Metadata,
    rate_limit: Option<RateLimit>,
    limits: Limits,
}

impl Args {
    fn options(&self) -> Result<Options> {
        let file = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read the config file {}", path.display()))?;
                toml::from_str::<ConfigFile>(&text)
                    .with_context(|| format!("the config file {} is not valid", path.display()))?
            }
            None => ConfigFile::default(),
        };
        // Paths in the file are relative to it.
        let near = |p: Option<PathBuf>| match (p, &self.config) {
            (Some(p), Some(config)) if p.is_relative() => {
                Some(config.parent().unwrap_or(Path::new(".")).join(p))
            }
            (p, _) => p,
        };
        let defaults = Limits::default();
        Ok(Options {
            listen: self
                .listen
                .or(file.listen)
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
            tokens: self.tokens.clone().or_else(|| near(file.tokens)),
            key_file: self.key_file.clone().or_else(|| near(file.key_file)),
            allow_origins: if self.allow_origins.is_empty() {
                file.allow_origins
            } else {
                self.allow_origins.clone()
            },
            require_credentials: self.require_credentials || file.require_credentials,
            ofrep_metadata: self
                .ofrep_metadata
                .or(file.ofrep_metadata)
                .unwrap_or(Metadata::Public),
            rate_limit: self.rate_limit.or(file.rate_limit).map(|rate| {
                let limit = RateLimit::per_second(rate)
                    .burst(self.rate_burst.or(file.rate_burst).unwrap_or(rate));
                if self.behind_proxy || file.behind_proxy {
                    limit.behind_proxy()
                } else {
                    limit
                }
            }),
            limits: Limits {
                max_connections: self
                    .max_connections
                    .or(file.max_connections)
                    .unwrap_or(defaults.max_connections),
                header_timeout: self
                    .header_timeout
                    .or(file.header_timeout)
                    .unwrap_or(defaults.header_timeout),
                shutdown_grace: self
                    .shutdown_grace
                    .or(file.shutdown_grace)
                    .unwrap_or(defaults.shutdown_grace),
            },
        })
    }
}

impl Options {
    fn config(&self, streams: &Streams, tokens: Option<&TokenFile>) -> Result<Config> {
        let mut config = match tokens {
            Some(tokens) => Config::new(tokens.clone()),
            None => {
                eprintln!("toggles serve: no --tokens file: nobody can sign in or write");
                Config::new(BearerTokens::default())
            }
        }
        .streams(streams);
        if let Some(limit) = self.rate_limit {
            config = config.rate_limit(limit);
        }
        match &self.key_file {
            Some(path) => config = config.key(read_key(path)?),
            None => eprintln!(
                "toggles serve: no --key-file: admin sessions are signed with a key of this \
                 process only, so replicas do not share them and a restart signs everyone out"
            ),
        }
        if !self.allow_origins.is_empty() {
            config = config.allow_origins(&self.allow_origins)?;
        }
        if self.require_credentials {
            config = config.require_credentials();
        }
        if self.ofrep_metadata == Metadata::Full {
            config = config.ofrep_metadata(OfrepMetadata::Full);
        }
        Ok(config)
    }
}

/// The session key in `path`: 64 hex digits, surrounding white space ignored.
fn read_key(path: &Path) -> Result<[u8; 32]> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the key file {}", path.display()))?;
    let hex = text.trim();
    let mut key = [0u8; 32];
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!(
            "the key file {} must hold 64 hex digits (32 random bytes: `openssl rand -hex 32`)",
            path.display()
        );
    }
    for (byte, pair) in key.iter_mut().zip(hex.as_bytes().chunks(2)) {
        let pair = std::str::from_utf8(pair).expect("hex digits are ASCII");
        *byte = u8::from_str_radix(pair, 16).expect("checked to be hex digits");
    }
    Ok(key)
}

/// What the probes and the metrics read.
pub(crate) struct Serving {
    pub(crate) metrics: Metrics,
    pub(crate) streams: Streams,
    /// Set when the server starts shutting down: not ready any more.
    pub(crate) draining: std::sync::atomic::AtomicBool,
}

pub(crate) fn run(store_args: &StoreArgs, args: &Args) -> Result<Outcome> {
    let options = args.options()?;
    let store = store_args.open()?;
    // The registry is built from the fleet's declarations, newest first, before anything
    // reads it: this program declares no toggle of its own.
    let mut published = fleet_declarations(&*store, &store_args.describe());
    published.sort_by_key(|p| std::cmp::Reverse(p.published_at));
    let adoption = adopt(published.iter().flat_map(|p| &p.declarations.toggles))
        .context("the registry was built before the fleet's declarations were read")?;
    for (name, why) in &adoption.skipped {
        if !adoption.adopted.contains(name) {
            eprintln!("toggles serve: `{name}` is not served: {why}");
        }
    }
    eprintln!(
        "toggles serve: {} declared by {}",
        crate::plural::count(adoption.adopted.len() as u64, "toggle", "toggles"),
        crate::plural::count(published.len() as u64, "instance", "instances")
    );
    let streams = Streams::new();
    let tokens = match &options.tokens {
        Some(path) => Some(TokenFile::open(path).map_err(|e| anyhow!("{e}"))?),
        None => None,
    };
    let config = options.config(&streams, tokens.as_ref())?;
    let service = Service::new("toggles-serve", env!("CARGO_PKG_VERSION"));
    // Guards and staged rollouts are judged where outcomes are recorded: in the services.
    let installation = match Installer::new(store)
        .service(service)
        .without_guard_thread()
        .install()
    {
        Ok(installation) => installation,
        Err(toggles_runtime::InstallError::FirstLoad {
            installation,
            source,
        }) => {
            eprintln!(
                "toggles serve: the store did not answer ({source}); not ready until it does"
            );
            installation
        }
        Err(e) => return Err(e).context("cannot install the store"),
    };
    let serving = Arc::new(Serving {
        metrics: Metrics::new(),
        streams,
        draining: std::sync::atomic::AtomicBool::new(false),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the server's runtime")?;
    runtime.block_on(async {
        let app = axum::Router::new()
            .route("/healthz", get(|| async { "ok\n" }))
            .route("/readyz", get(ready))
            .route("/metrics", get(crate::metrics::scrape))
            .with_state(Arc::clone(&serving))
            .merge(toggles_http::router(config))
            .layer(axum::middleware::from_fn_with_state(
                Arc::clone(&serving),
                crate::metrics::count,
            ));
        crate::metrics::follow_propagation(Arc::clone(&serving));
        if let Some(tokens) = tokens {
            tokio::spawn(reload_tokens(tokens));
        }
        let server = Server::bind(options.listen, options.limits)
            .await
            .with_context(|| format!("cannot listen on {}", options.listen))?;
        eprintln!(
            "toggles serve: listening on http://{}/",
            server.local_addr()
        );
        server.run(app, Arc::clone(&serving)).await;
        Ok::<(), anyhow::Error>(())
    })?;
    installation.shutdown();
    eprintln!("toggles serve: stopped");
    Ok(Outcome::Clean)
}

/// The fleet's published declarations: a server started before its database waits for it,
/// saying why, rather than serving nothing.
fn fleet_declarations(store: &dyn Store, name: &str) -> Vec<Published> {
    let mut wait = Duration::from_millis(250);
    loop {
        match store.published() {
            Ok(published) => return published,
            Err(e) => {
                eprintln!(
                    "toggles serve: cannot read the fleet's declarations from {name} ({e}); \
                     trying again in {}",
                    humantime::format_duration(wait)
                );
                std::thread::sleep(wait);
                wait = (wait * 2).min(Duration::from_secs(10));
            }
        }
    }
}

/// Reads the token file again on SIGHUP and whenever it changes (looked at every 2 s), so a
/// token added or revoked takes effect without a restart; a file that does not read is
/// reported and the tokens in force stay.
async fn reload_tokens(tokens: TokenFile) {
    let report = |reloaded: Result<usize, Box<dyn std::error::Error>>| match reloaded {
        Ok(n) => eprintln!(
            "toggles serve: {} read again: {n} tokens in force",
            tokens.path().display()
        ),
        Err(e) => eprintln!("toggles serve: the tokens in force stay: {e}"),
    };
    #[cfg(unix)]
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    let mut every = tokio::time::interval(Duration::from_secs(2));
    loop {
        #[cfg(unix)]
        let hung_up = async {
            match &mut hangup {
                Some(signal) => signal.recv().await,
                None => std::future::pending().await,
            }
        };
        #[cfg(not(unix))]
        let hung_up = std::future::pending::<Option<()>>();
        tokio::select! {
            _ = hung_up => report(tokens.reload()),
            _ = every.tick() => {
                if let Some(reloaded) = tokens.reload_if_changed() {
                    report(reloaded);
                }
            }
        }
    }
}

/// `GET /readyz`: 200 once the store's state is in force, 503 before the first load and while
/// shutting down.
async fn ready(State(serving): State<Arc<Serving>>) -> (StatusCode, String) {
    if serving.draining.load(std::sync::atomic::Ordering::Relaxed) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting down\n".to_owned(),
        );
    }
    let status = toggles_runtime::status();
    match (status.loaded_at, status.last_error) {
        (Some(at), None) => (StatusCode::OK, format!("ready: state loaded at {at}\n")),
        (Some(at), Some(e)) => (
            // The last good state is in force and answers: still ready, and says so.
            StatusCode::OK,
            format!("ready: state loaded at {at}; the last load failed: {e}\n"),
        ),
        (None, e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "not ready: the store's state has not been loaded yet{}\n",
                e.map(|e| format!(": {e}")).unwrap_or_default()
            ),
        ),
    }
}

/// When `at` was, in seconds before now.
pub(crate) fn seconds_since(at: Timestamp) -> f64 {
    let now = Timestamp::now();
    #[allow(clippy::cast_precision_loss)]
    let secs = now.unix_micros().saturating_sub(at.unix_micros()) as f64 / 1e6;
    secs.max(0.0)
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn options(argv: &[&str]) -> Result<Options> {
        Cli::try_parse_from(std::iter::once("serve").chain(argv.iter().copied()))?
            .args
            .options()
    }

    #[test]
    fn the_command_line_wins_over_the_file_and_the_file_over_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("serve.toml");
        std::fs::write(
            &file,
            "listen = \"0.0.0.0:9000\"\nheader_timeout = \"3s\"\ntokens = \"tokens.json\"\n\
             allow_origins = [\"https://app.example.com\"]\n",
        )
        .unwrap();
        let config = file.to_str().unwrap();
        let o = options(&["--config", config, "--listen", "127.0.0.1:9100"]).unwrap();
        assert_eq!(o.listen, "127.0.0.1:9100".parse().unwrap());
        assert_eq!(o.limits.header_timeout, Duration::from_secs(3));
        assert_eq!(o.limits.max_connections, Limits::default().max_connections);
        assert_eq!(
            o.tokens,
            Some(dir.path().join("tokens.json")),
            "relative to the file"
        );
        assert_eq!(o.allow_origins, ["https://app.example.com"]);
        let o = options(&[]).unwrap();
        assert_eq!(o.listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(o.ofrep_metadata, Metadata::Public);
    }

    #[test]
    fn a_config_file_with_an_unknown_key_or_a_bad_value_is_refused_with_where() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("serve.toml");
        std::fs::write(&file, "listne = \"0.0.0.0:9000\"\n").unwrap();
        let e = options(&["--config", file.to_str().unwrap()]).unwrap_err();
        let text = format!("{e:#}");
        assert!(
            text.contains("serve.toml is not valid") && text.contains("listne"),
            "{text}"
        );
        std::fs::write(&file, "header_timeout = \"soon\"\n").unwrap();
        let e = options(&["--config", file.to_str().unwrap()]).unwrap_err();
        assert!(format!("{e:#}").contains("header_timeout"), "{e:#}");
    }

    #[test]
    fn a_key_file_holds_64_hex_digits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        std::fs::write(&path, format!("{}\n", "0f".repeat(32))).unwrap();
        assert_eq!(read_key(&path).unwrap(), [0x0f; 32]);
        std::fs::write(&path, "secret").unwrap();
        let e = read_key(&path).unwrap_err().to_string();
        assert!(e.contains("64 hex digits"), "{e}");
    }

    #[tokio::test]
    async fn not_ready_before_the_first_load_nor_while_shutting_down() {
        let serving = Arc::new(Serving {
            metrics: Metrics::new(),
            streams: Streams::new(),
            draining: std::sync::atomic::AtomicBool::new(false),
        });
        // No store is installed in this test process: nothing has been loaded.
        let (status, body) = ready(State(Arc::clone(&serving))).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert!(body.contains("not been loaded"), "{body}");
        serving
            .draining
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let (status, body) = ready(State(serving)).await;
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n")
        );
    }
}
