//! The accept loop of `toggles serve`: HTTP/1.1 connections with a bound on how many are open,
//! a deadline for each request head, and a graceful shutdown on SIGTERM or Ctrl-C.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt as _;

use crate::serve::Serving;

/// What bounds the server's connections.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Connections open at once; the next waits in the listen queue until one closes.
    pub(crate) max_connections: usize,
    /// How long a connection has to send a whole request head, new or kept alive.
    pub(crate) header_timeout: Duration,
    /// How long open requests have, once shutting down, before the server stops regardless.
    pub(crate) shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_connections: 10_000,
            header_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(20),
        }
    }
}

/// A bound listener.
pub(crate) struct Server {
    listener: TcpListener,
    limits: Limits,
}

impl Server {
    pub(crate) async fn bind(addr: SocketAddr, limits: Limits) -> std::io::Result<Server> {
        Ok(Server {
            listener: TcpListener::bind(addr).await?,
            limits,
        })
    }

    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves `app` until SIGTERM or Ctrl-C, then stops accepting, says it is not ready, ends
    /// the change streams and gives open requests the grace period to finish.
    pub(crate) async fn run(self, app: axum::Router, serving: Arc<Serving>) {
        let permits = Arc::new(Semaphore::new(self.limits.max_connections));
        let graceful = GracefulShutdown::new();
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(self.limits.header_timeout);
        let shutdown = shutdown_signal();
        tokio::pin!(shutdown);
        loop {
            // A permit first: at the limit, connections wait in the kernel's queue rather
            // than being accepted and left unserved.
            let permit = tokio::select! {
                permit = Arc::clone(&permits).acquire_owned() => permit.expect("never closed"),
                () = &mut shutdown => break,
            };
            let (socket, peer) = tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of file descriptors, mostly: wait rather than spin.
                        eprintln!("toggles serve: cannot accept a connection: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let _ = socket.set_nodelay(true);
            // The peer's address, for what keys on the client (the rate limit).
            let service = TowerToHyperService::new(app.clone().map_request(
                move |mut request: axum::extract::Request<hyper::body::Incoming>| {
                    request.extensions_mut().insert(ConnectInfo(peer));
                    request
                },
            ));
            let connection = builder.serve_connection(TokioIo::new(socket), service);
            let connection = graceful.watch(connection);
            let serving = Arc::clone(&serving);
            tokio::spawn(async move {
                serving.metrics.connections.inc();
                // An error here is a client gone or too slow: nothing to tell the operator.
                let _ = connection.await;
                serving.metrics.connections.dec();
                drop(permit);
            });
        }
        eprintln!("toggles serve: shutting down");
        serving.draining.store(true, Ordering::Relaxed);
        drop(self.listener);
        serving.streams.close();
        tokio::select! {
            () = graceful.shutdown() => {}
            () = tokio::time::sleep(self.limits.shutdown_grace) => {
                eprintln!("toggles serve: requests still open after the grace period are cut");
            }
        }
    }
}

/// SIGTERM (what an orchestrator sends) or Ctrl-C.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("a process can listen for SIGTERM");
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
