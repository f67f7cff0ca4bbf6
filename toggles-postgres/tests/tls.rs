//! TLS against the local server, with a certificate authority and a server certificate the test
//! makes: `verify-full` connects and encrypts, a certificate from another authority or for
//! another host is refused with the reason, `verify-ca` accepts another host's name, and
//! `disable` stays in plain text.
//!
//! The test points the server at its certificate (`ALTER SYSTEM`, then a reload) and puts the
//! server's own back when it ends. That needs a superuser and a data directory it can write to
//! (root, as under CI); elsewhere it says so loudly and skips, but under CI it fails.

mod support;

use std::io::Write as _;
use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType};
use support::{client, schema, url};
use toggles::store::Snapshot;
use toggles::store::Store;
use toggles::Change;
use toggles_postgres::PostgresStore;

/// A certificate authority, its PEM, and a server certificate it signed for `localhost` and
/// 127.0.0.1 with the server certificate's key.
struct Certificates {
    ca: String,
    server: String,
    server_key: String,
}

fn make_certificates(name: &str) -> Certificates {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, format!("toggles test CA {name}"));
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let server_key = KeyPair::generate().unwrap();
    let mut server = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    server
        .subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    let server_cert = server.signed_by(&server_key, &issuer).unwrap();
    Certificates {
        ca: ca_cert.pem(),
        server: server_cert.pem(),
        server_key: server_key.serialize_pem(),
    }
}

/// Whether this machine must run the test rather than skip it.
fn required() -> bool {
    std::env::var("TOGGLES_REQUIRE_POSTGRES").is_ok_and(|v| v == "1")
        || std::env::var("CI").is_ok_and(|v| v == "true")
}

fn skip(why: &str) {
    assert!(!required(), "the TLS test must run here, but {why}");
    let _ = writeln!(
        std::io::stderr(),
        "\n*** SKIPPED tls: {why}. Run it as root against the local server. ***\n"
    );
}

/// The server's certificate, put back when dropped.
struct ServerCertificate;

impl ServerCertificate {
    /// Points the server at `certs`' server certificate; `Err` with the reason if this machine
    /// cannot.
    fn install(certs: &Certificates) -> Result<ServerCertificate, String> {
        let mut admin = client();
        let data: String = admin
            .query_one("SHOW data_directory", &[])
            .map_err(|e| format!("cannot read the server's settings: {e}"))?
            .get(0);
        // Beside the data directory, owned by the server's user: kept after the test, so that
        // a server restarted before the settings are put back still finds its files.
        let dir = Path::new(&data).join("toggles-test-tls");
        let owner = std::fs::metadata(&data).map_err(|e| format!("cannot see {data}: {e}"))?;
        let write = |name: &str, text: &str| -> Result<PathBuf, String> {
            use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
            std::fs::create_dir_all(&dir).map_err(|e| format!("cannot write {data}: {e}"))?;
            let path = dir.join(name);
            std::fs::write(&path, text).map_err(|e| format!("cannot write {data}: {e}"))?;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .and_then(|()| {
                    std::os::unix::fs::chown(&path, Some(owner.uid()), Some(owner.gid()))
                })
                .and_then(|()| std::os::unix::fs::chown(&dir, Some(owner.uid()), Some(owner.gid())))
                .map_err(|e| format!("cannot hand {} to the server's user: {e}", path.display()))?;
            Ok(path)
        };
        let cert = write("server.crt", &certs.server)?;
        let key = write("server.key", &certs.server_key)?;
        // One statement at a time: `ALTER SYSTEM` cannot run in a transaction block.
        for statement in [
            "ALTER SYSTEM SET ssl = on".to_owned(),
            format!("ALTER SYSTEM SET ssl_cert_file = '{}'", cert.display()),
            format!("ALTER SYSTEM SET ssl_key_file = '{}'", key.display()),
            "SELECT pg_reload_conf()".to_owned(),
        ] {
            admin.simple_query(&statement).map_err(|e| {
                let why = std::error::Error::source(&e)
                    .map_or_else(|| e.to_string(), ToString::to_string);
                format!("cannot change the server's settings (a superuser can): {why}")
            })?;
        }
        Ok(ServerCertificate)
    }
}

impl Drop for ServerCertificate {
    fn drop(&mut self) {
        let mut admin = client();
        for statement in [
            "ALTER SYSTEM RESET ssl",
            "ALTER SYSTEM RESET ssl_cert_file",
            "ALTER SYSTEM RESET ssl_key_file",
            "SELECT pg_reload_conf()",
        ] {
            let _ = admin.simple_query(statement);
        }
    }
}

/// A store in `schema` over `connection`, which names the local server's database and user.
fn store_over(connection: &str, schema: &str) -> Result<PostgresStore, toggles::StoreError> {
    PostgresStore::new(connection, schema)
}

/// The connections of the store whose last statement named `schema`, and whether each is
/// encrypted, as the server sees them.
fn encrypted(schema: &str) -> Vec<bool> {
    client()
        .query(
            "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
             WHERE a.application_name = 'toggles' AND a.query LIKE '%' || $1 || '%'",
            &[&schema],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

/// Writes and reads through `store`: the whole path a service takes.
fn use_it(store: &PostgresStore) -> Result<(), String> {
    store
        .update(&mut |snapshot: &mut Snapshot| {
            snapshot.apply(&Change::switch("tls.switch", true));
            Ok(
                toggles::store::AuditEntry::new("tls.switch", "test", "over TLS")
                    .after(Some(true.into())),
            )
        })
        .map_err(|e| e.to_string())?;
    let loaded = store.load().map_err(|e| e.to_string())?;
    assert_eq!(loaded.switches["tls.switch"], true);
    Ok(())
}

#[test]
fn verify_full_against_a_certificate_the_test_made() {
    let Some(schema) = schema("tls") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let certs = make_certificates("one");
    let other = make_certificates("two");
    let ca = dir.path().join("ca.pem");
    let wrong_ca = dir.path().join("other-ca.pem");
    std::fs::write(&ca, &certs.ca).unwrap();
    std::fs::write(&wrong_ca, &other.ca).unwrap();
    let installed = match ServerCertificate::install(&certs) {
        Ok(installed) => installed,
        Err(why) => return skip(&why),
    };
    let base = url();
    let with = |extra: &str| format!("{base} {extra}");

    // The reload takes a moment: until then the server still shows its own certificate.
    let full = with(&format!("sslmode=verify-full sslrootcert={}", ca.display()));
    support::wait_for("the server presents the test's certificate", 10, || {
        store_over(&full, &schema).unwrap().load().is_ok()
    });
    let store = store_over(&full, &schema).unwrap();
    assert!(
        store.describe().ends_with("(TLS, verify-full)"),
        "{}",
        store.describe()
    );
    use_it(&store).unwrap();
    let seen = encrypted(&schema);
    assert!(!seen.is_empty() && seen.iter().all(|tls| *tls), "{seen:?}");

    // Another authority's roots: refused, saying why.
    let wrong = store_over(
        &with(&format!(
            "sslmode=verify-full sslrootcert={}",
            wrong_ca.display()
        )),
        &format!("{schema}_wrong"),
    )
    .unwrap();
    let err = wrong.load().unwrap_err().to_string();
    assert!(err.contains("UnknownIssuer"), "{err}");

    // Another host's name (reached at the same address): refused by verify-full, accepted by
    // verify-ca, which checks the authority only.
    let renamed = |mode: &str| {
        format!(
            "host=db.example.invalid hostaddr=127.0.0.1 port=5432 user=postgres dbname=test sslmode={mode} sslrootcert={}",
            ca.display()
        )
    };
    let err = store_over(&renamed("verify-full"), &format!("{schema}_name"))
        .unwrap()
        .load()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(
            "invalid peer certificate: certificate not valid for name \"db.example.invalid\""
        ),
        "{err}"
    );
    store_over(&renamed("verify-ca"), &format!("{schema}_ca"))
        .unwrap()
        .load()
        .unwrap();

    // `require` encrypts without checking; `disable` does not encrypt.
    let plain = format!("{schema}_plain");
    let store = store_over(&with("sslmode=disable"), &plain).unwrap();
    use_it(&store).unwrap();
    let seen = encrypted(&plain);
    assert!(!seen.is_empty() && seen.iter().all(|tls| !*tls), "{seen:?}");
    let required = format!("{schema}_required");
    let store = store_over(&with("sslmode=require"), &required).unwrap();
    use_it(&store).unwrap();
    let seen = encrypted(&required);
    assert!(!seen.is_empty() && seen.iter().all(|tls| *tls), "{seen:?}");
    drop(installed);
    for s in ["_wrong", "_name", "_ca", "_plain", "_required"] {
        client()
            .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}{s}\" CASCADE"))
            .unwrap();
    }
}
