//! The PostgreSQL server the tests use, a schema per test, and a proxy that can cut the line.

#![allow(dead_code, unreachable_pub)]

mod server;

use std::io::Read as _;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

pub use self::server::url;

/// A fresh, empty schema `test_<test>`, or `None` (said loudly) when no server answers on a
/// machine that does not require one.
pub fn schema(test: &str) -> Option<String> {
    server::fresh_schema(&format!("test_{test}"))
}

/// A plain connection, for looking behind the store's back.
pub fn client() -> postgres::Client {
    postgres::Client::connect(&url(), postgres::NoTls).unwrap()
}

static SERIAL: Mutex<()> = Mutex::new(());

/// The installed store is process-wide: tests that install one take turns.
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Waits up to `seconds` for `done`.
pub fn wait_for(what: &str, seconds: u64, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(seconds),
            "not within {seconds} s: {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A TCP proxy in front of the server that can refuse new connections and cut the open ones:
/// the database "made unreachable" without stopping the server other tests share.
pub struct Proxy {
    pub port: u16,
    up: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    /// A proxy to the local server on 127.0.0.1:5432, up or down.
    pub fn start(up: bool) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(up));
        let open = Arc::new(Mutex::new(Vec::new()));
        let (is_up, conns) = (up.clone(), open.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let server = match TcpStream::connect("127.0.0.1:5432") {
                    Ok(server) if is_up.load(Ordering::SeqCst) => server,
                    _ => {
                        let _ = client.shutdown(Shutdown::Both);
                        continue;
                    }
                };
                let mut conns = conns.lock().unwrap();
                conns.push(client.try_clone().unwrap());
                conns.push(server.try_clone().unwrap());
                pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
                pipe(server, client);
            }
        });
        Proxy { port, up, open }
    }

    /// A connection string through the proxy.
    pub fn url(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user=postgres dbname=test connect_timeout=2",
            self.port
        )
    }

    /// Cuts every open connection and refuses new ones.
    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for conn in self.open.lock().unwrap().drain(..) {
            let _ = conn.shutdown(Shutdown::Both);
        }
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if std::io::Write::write_all(&mut to, &buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = to.shutdown(Shutdown::Both);
    });
}
