//! The accept loop: HTTP/1.1 connections, each bounded in time and all of
//! them in number.
//!
//! * A connection must finish its request headers within
//!   `header_timeout_secs` of being accepted, and of its previous response
//!   when it is kept alive: a client that connects and sends nothing, or
//!   idles between requests, is closed like one that stalls inside them.
//!   (The previous loop sniffed for HTTP/2 before that clock started, so a
//!   silent connection was held for ever.)
//! * At most `max_connections` are open at once, and never more than the
//!   process's descriptor limit leaves room for: further clients wait in
//!   the listen backlog until one closes, instead of the server running
//!   out of descriptors for its own files and for `/healthz`.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::sync::Semaphore;

/// Descriptors kept back from the connection cap for the log store, the
/// listener, the token file, logs and checkpoint signing.
pub const RESERVED_DESCRIPTORS: u64 = 64;

/// The most connections served at once: the configured cap, lowered to
/// what the descriptor limit (`RLIMIT_NOFILE`) leaves after
/// [`RESERVED_DESCRIPTORS`].
pub fn connection_cap(configured: usize) -> usize {
    #[cfg(unix)]
    {
        let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
        if let Some(room) = limit.map(|l| l.saturating_sub(RESERVED_DESCRIPTORS).max(1)) {
            let room = usize::try_from(room).unwrap_or(usize::MAX);
            if room < configured {
                tracing::warn!(
                    configured,
                    serving = room,
                    "max_connections lowered to fit the open-file limit (ulimit -n); raise it to serve more"
                );
                return room;
            }
        }
    }
    configured.max(1)
}

/// Serves connections until `shutdown` completes, then lets in-flight
/// requests finish (for at most 30 s).
pub async fn accept_loop(
    listener: tokio::net::TcpListener,
    app: Router,
    header_timeout: Duration,
    max_connections: usize,
    shutdown: impl std::future::Future<Output = ()>,
) {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use hyper_util::server::conn::auto::Builder;
    use hyper_util::server::graceful::GracefulShutdown;
    use hyper_util::service::TowerToHyperService;

    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    // HTTP/1.1 only: the header clock then starts at accept (hyper's own
    // HTTP/1 connection reads the first request head at once), where the
    // HTTP/2 sniffing of the automatic builder waited untimed for bytes.
    let mut builder = Builder::new(TokioExecutor::new()).http1_only();
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let slots = Arc::new(Semaphore::new(max_connections.max(1)));
    loop {
        // A slot first: at the cap, clients wait in the backlog.
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let service = TowerToHyperService::new(app.clone());
                let conn = builder.serve_connection(TokioIo::new(stream), service);
                let conn = graceful.watch(conn.into_owned());
                tokio::spawn(async move {
                    let _ = conn.await;
                    drop(permit);
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(Duration::from_secs(30), graceful.shutdown()).await;
}
