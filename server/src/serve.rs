//! `dirgate serve`: open the database, make the first operator account, and serve until
//! SIGINT or SIGTERM.
//!
//! The connection loop is our own (hyper's HTTP/1 server, as `axum::serve` uses it) because
//! `axum::serve` sets no header timeout: without one, a client that sends its headers a byte at a
//! time (slowloris) holds a connection and its task forever.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use clap::Args;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower::ServiceExt;

use crate::body::{self, Pace};
use crate::store::{Role, Store, Timestamp, User};
use crate::{AppState, Config, app, auth};

#[derive(Args)]
pub struct ServeArgs {
    /// The address to listen on (port 0 picks a free port; the chosen address is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The database file (created when missing).
    #[arg(long, default_value = "./dirgate.redb")]
    db: PathBuf,
    /// The largest import or sync body, after decompression, in MiB.
    #[arg(long, default_value_t = 128)]
    max_upload_mib: u64,
    /// The database's page cache, in MiB: recipient checks and diffs read through it. 256
    /// cut the peak RSS of a 1M-recipient import from about 1.6-1.9 GiB to 1.2 GiB in one run,
    /// with a longer p99 on single-connection recipient checks; hence the larger default.
    #[arg(long, default_value_t = 1024)]
    db_cache_mib: usize,
    /// Mark the session cookie `Secure` (when the server is reached over HTTPS).
    #[arg(long)]
    secure_cookies: bool,
    /// Also answer Postfix's policy delegation protocol (`check_policy_service`) here.
    #[arg(long, value_name = "ADDR")]
    policy_listen: Option<SocketAddr>,
    /// The policy service's text after `REJECT`; `{recipient}` is replaced by the address.
    #[arg(long, default_value = crate::policy::DEFAULT_REJECT_TEXT)]
    policy_reject_text: String,
    /// The longest wait, in seconds, for a request's line and headers, and for the next request
    /// on a kept-open connection; the connection is then closed.
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    header_timeout_secs: u64,
    /// The longest wait, in seconds, for the next bytes of a request body (then 408); also the
    /// grace period before --min-body-rate applies.
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    body_timeout_secs: u64,
    /// The slowest a client may send a request body, in bytes per second, averaged over the time
    /// spent waiting for it once that exceeds --body-timeout-secs (then 408). Time the server
    /// spends validating does not count against the client.
    #[arg(long, default_value_t = 1024, value_name = "BYTES")]
    min_body_rate: u64,
}

/// How long a connection may keep the server waiting.
#[derive(Clone, Copy, Debug)]
struct Timeouts {
    header: Duration,
    pace: Pace,
}

impl Timeouts {
    fn of(args: &ServeArgs) -> Timeouts {
        Timeouts {
            header: Duration::from_secs(args.header_timeout_secs),
            pace: Pace { idle: Duration::from_secs(args.body_timeout_secs), min_bytes_per_second: args.min_body_rate },
        }
    }
}

/// Creates the operator account `admin` on an empty database. The password comes from
/// `DIRGATE_ADMIN_PASSWORD`, or is generated and returned so that it can be printed once.
fn bootstrap(store: &Store) -> crate::store::Result<Option<(String, bool)>> {
    if store.user_count()? > 0 {
        return Ok(None);
    }
    let (password, generated) = match std::env::var("DIRGATE_ADMIN_PASSWORD") {
        Ok(p) if !p.is_empty() => (p, false),
        _ => (auth::random_secret(18), true),
    };
    let user = User {
        username: "admin".to_owned(),
        password_hash: auth::hash_password(&password),
        role: Role::Operator,
        tenant: None,
        created_at: Timestamp::now(),
    };
    store.create_user(&user)?;
    Ok(Some((password, generated)))
}

async fn shutdown_signal(notify: tokio::sync::watch::Sender<bool>) {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return interrupt.await.unwrap_or(()),
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    interrupt.await.unwrap_or(());
    eprintln!("dirgate: shutting down");
    let _ = notify.send(true);
}

pub fn run(args: &ServeArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("dirgate serve: cannot start: {e}");
            return ExitCode::from(2);
        }
    };
    runtime.block_on(serve(args))
}

async fn serve(args: &ServeArgs) -> ExitCode {
    let db = args.db.clone();
    let cache_bytes = args.db_cache_mib << 20;
    let opened = tokio::task::spawn_blocking(move || {
        let store = Store::open(&db, cache_bytes)?;
        let first = bootstrap(&store)?;
        Ok::<_, crate::store::StoreError>((store, first))
    })
    .await;
    let (store, first) = match opened {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => {
            eprintln!("dirgate serve: cannot open {}: {e}", args.db.display());
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("dirgate serve: {e}");
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(args.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("dirgate serve: cannot listen on {}: {e}", args.listen);
            return ExitCode::from(2);
        }
    };
    let address = listener.local_addr().unwrap_or(args.listen);
    let config = Config {
        max_upload_bytes: args.max_upload_mib << 20,
        secure_cookies: args.secure_cookies,
        ..Config::default()
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    if let Some(policy_address) = args.policy_listen {
        let policy_listener = match tokio::net::TcpListener::bind(policy_address).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("dirgate serve: cannot listen for the policy service on {policy_address}: {e}");
                return ExitCode::from(2);
            }
        };
        let bound = policy_listener.local_addr().unwrap_or(policy_address);
        let policy = crate::policy::PolicyConfig { reject_text: args.policy_reject_text.clone() };
        tokio::spawn(crate::policy::serve(policy_listener, store.clone(), policy, stopped.clone()));
        println!("policy service listening on {bound} (Postfix: check_policy_service inet:{bound})");
    }
    let router = app(AppState::new(store, config));
    println!("dirgate listening on http://{address}/ (database {})", args.db.display());
    match first {
        Some((password, true)) => println!(
            "first login: admin / {password}  (shown once; change it by setting DIRGATE_ADMIN_PASSWORD before the first start)"
        ),
        Some((_, false)) => println!("first login: admin / the password in DIRGATE_ADMIN_PASSWORD"),
        None => {}
    }
    tokio::spawn(shutdown_signal(stop));
    serve_http(listener, router, Timeouts::of(args), stopped).await;
    ExitCode::SUCCESS
}

/// Accepts connections until `stop` turns true, then waits for the open ones to finish their
/// requests (each closes once idle).
async fn serve_http(listener: TcpListener, router: Router, timeouts: Timeouts, mut stop: watch::Receiver<bool>) {
    // Every connection holds a clone of `open`; `all_closed` resolves once the last is dropped.
    let (all_closed, open) = watch::channel(());
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|stopping| *stopping) => break,
        };
        match accepted {
            Ok((stream, peer)) => {
                let connection = serve_connection(stream, peer, router.clone(), timeouts, stop.clone());
                let open = open.clone();
                tokio::spawn(async move {
                    connection.await;
                    drop(open);
                });
            }
            // Out of file descriptors, most likely: give the open connections time to close
            // rather than spin.
            Err(e) => {
                eprintln!("dirgate serve: cannot accept a connection: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    drop(open);
    all_closed.closed().await;
}

/// Serves one HTTP/1 connection with the header timeout and paced request bodies, and shuts it
/// down gracefully when `stop` turns true.
async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    timeouts: Timeouts,
    mut stop: watch::Receiver<bool>,
) {
    let service = hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        let request = request.map(|incoming| body::paced(Body::new(incoming), timeouts.pace));
        router.clone().oneshot(request)
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(timeouts.header);
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    tokio::select! {
        // A timed-out or broken connection is the client's problem, not the server's.
        _ = connection.as_mut() => return,
        _ = stop.wait_for(|stopping| *stopping) => connection.as_mut().graceful_shutdown(),
    }
    let _ = connection.await;
}
