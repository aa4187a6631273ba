//! scanopy-server: the inventory's API and web UI, the daemons' server, and a local daemon.
//!
//! # Overview
//! [`app`] builds the whole HTTP application over an [`AppState`] (tests call it without a
//! socket); [`run`] opens the store (embedded SQLite in the data directory, or PostgreSQL),
//! creates the first admin, starts the background tasks (event pump, scheduler, push
//! dispatcher, the local daemon) and serves HTTP or HTTPS.
//!
//! Routes are those of CONTRACT.md under `/api/v1`, the daemon protocol under
//! `/api/v1/daemon/…` ([`scanopy_core::protocol`]), the OpenAPI document at
//! `/api/v1/openapi.json`, and the UI at `/`.

pub mod api;
pub mod auth;
pub mod cache;
pub mod config;
pub mod error;
pub mod events;
pub mod jobs;
pub mod metrics;
pub mod push;
pub mod signin;
pub mod state;
pub mod ui;
pub mod webhooks;

use std::process::ExitCode;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use scanopy_store::{SqlStore, Store};
use utoipa::OpenApi;

pub use config::ServerConfig;
pub use state::AppState;

use crate::error::ApiError;

/// The most a request body may hold, but for daemon results.
pub const BODY_LIMIT: usize = 1 << 20;
/// The most a daemon results batch may hold.
pub const RESULTS_LIMIT: usize = 32 << 20;

/// The OpenAPI document, generated from the handlers.
#[derive(OpenApi)]
#[openapi(
    info(title = "scanopy", description = "Network discovery and documentation: the server's API."),
    paths(
        api::health, auth::login, auth::logout, api::me, api::status,
        api::devices, api::device, api::patch_device, api::delete_device, api::services,
        api::networks, api::create_network, api::topology,
        api::create_scan, api::scans, api::scan, api::cancel_scan, api::scanners,
        api::schedules, api::create_schedule, api::delete_schedule,
        api::events, events::stream,
        api::daemons, api::set_push_url, api::daemon_keys, api::create_daemon_key, api::revoke_daemon_key,
        api::tokens, api::create_token, api::revoke_token,
        api::webhooks, api::create_webhook, api::delete_webhook,
        api::metrics,
        jobs::register, jobs::heartbeat, jobs::poll, jobs::results, jobs::progress, jobs::finish,
    ),
    components(schemas(auth::Login, api::DevicePatch, api::NewNetwork, api::NewScan, api::NewKey, api::NewWebhook, api::PushUrl)),
    modifiers(&Security),
    security(("bearer" = []), ("session" = [])),
)]
pub struct ApiDoc;

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme,
        };
        let c = openapi.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        c.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(auth::SESSION_COOKIE))),
        );
    }
}

async fn openapi() -> impl IntoResponse {
    axum::Json(ApiDoc::openapi())
}

/// Security headers on every answer, and request counts.
async fn harden(req: Request, next: Next) -> Response {
    let api = req.uri().path().starts_with("/api/");
    let mut r = next.run(req).await;
    let h = r.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
    );
    if api && !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    r
}

async fn api_not_found() -> ApiError {
    ApiError::not_found("this route")
}

/// The whole application.
pub fn app(state: AppState) -> Router {
    let daemon = Router::new()
        .route("/register", post(jobs::register))
        .route("/heartbeat", post(jobs::heartbeat))
        .route("/poll", post(jobs::poll))
        .route(
            "/jobs/{id}/results",
            post(jobs::results).layer(DefaultBodyLimit::max(RESULTS_LIMIT)),
        )
        .route("/jobs/{id}/progress", post(jobs::progress))
        .route("/jobs/{id}/finish", post(jobs::finish));
    let v1 = Router::new()
        .route("/health", get(api::health))
        .route("/auth/login", post(auth::login))
        .route("/auth/logout", post(auth::logout))
        .route("/me", get(api::me))
        .route("/status", get(api::status))
        .route("/devices", get(api::devices))
        .route(
            "/devices/{id}",
            get(api::device)
                .patch(api::patch_device)
                .delete(api::delete_device),
        )
        .route("/services", get(api::services))
        .route("/networks", get(api::networks).post(api::create_network))
        .route("/topology", get(api::topology))
        .route("/scans", get(api::scans).post(api::create_scan))
        .route("/scanners", get(api::scanners))
        .route("/scans/{id}", get(api::scan))
        .route("/scans/{id}/cancel", post(api::cancel_scan))
        .route("/schedules", get(api::schedules).post(api::create_schedule))
        .route("/schedules/{id}", delete(api::delete_schedule))
        .route("/events", get(api::events))
        .route("/events/stream", get(events::stream))
        .route("/daemons", get(api::daemons))
        .route("/daemons/{id}/push-url", put(api::set_push_url))
        .route(
            "/daemons/keys",
            get(api::daemon_keys).post(api::create_daemon_key),
        )
        .route("/daemons/keys/{id}", delete(api::revoke_daemon_key))
        .route("/tokens", get(api::tokens).post(api::create_token))
        .route("/tokens/{id}", delete(api::revoke_token))
        .route("/webhooks", get(api::webhooks).post(api::create_webhook))
        .route("/webhooks/{id}", delete(api::delete_webhook))
        .route("/metrics", get(api::metrics))
        .route("/openapi.json", get(openapi))
        .nest("/daemon", daemon)
        .fallback(api_not_found);
    Router::new()
        .nest("/api/v1", v1)
        .route("/api", get(api_not_found))
        .route("/api/{*rest}", get(api_not_found).post(api_not_found))
        .merge(ui::routes())
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn(harden))
        .with_state(state)
}

/// Opens the store the configuration names.
pub async fn open_store(config: &ServerConfig) -> anyhow::Result<Arc<dyn Store>> {
    Ok(match &config.database_url {
        Some(url) => Arc::new(SqlStore::connect_postgres(url).await?),
        None => {
            private_data_dir(config)?;
            let db = config.data_dir.join("scanopy.db");
            // Made 0600 (and its -wal and -shm after it); looser ones are tightened, loudly.
            let tightened = SqlStore::private_files(&db).map_err(|e| {
                anyhow::anyhow!("cannot make the database {} private: {e}", db.display())
            })?;
            for (f, old) in tightened {
                tracing::warn!(
                    path = %f.display(),
                    "tightened the mode of {} from {old:04o} to 0600: it holds the inventory and password hashes",
                    f.display()
                );
            }
            Arc::new(SqlStore::open(&db).await?)
        }
    })
}

/// Creates the data directory with mode 0700, or tightens it to 0700 (with a warning).
fn private_data_dir(config: &ServerConfig) -> anyhow::Result<()> {
    scanopy_daemon::files::private_dir(&config.data_dir).map_err(|e| {
        anyhow::anyhow!(
            "cannot create the data directory {}: {e}",
            config.data_dir.display()
        )
    })
}

/// Runs the server until Ctrl-C or SIGTERM.
pub async fn run(config: ServerConfig) -> anyhow::Result<()> {
    private_data_dir(&config)?;
    if let Some(c) = &config.config {
        scanopy_daemon::files::warn_if_readable_by_others(c, "the config file");
    }
    if let Some(k) = &config.tls_key {
        scanopy_daemon::files::warn_if_readable_by_others(k, "the TLS key");
    }
    let store = open_store(&config).await?;
    let key = push::load_or_create_key(&config.data_dir)?;
    let instance = push::load_or_create_instance(&config.data_dir)?;
    let state = AppState::with_sign_in(
        store,
        key,
        config.tls_cert.is_some(),
        signin::SignInConfig {
            trusted_proxies: config.trusted_proxies.clone(),
            ..Default::default()
        },
    )
    .with_instance(instance);
    *state.run_limits.lock().unwrap_or_else(|p| p.into_inner()) = scanopy_store::RunLimits {
        max_devices: config.run_max_devices,
        max_observations: config.run_max_observations,
    };
    let admin_password = std::env::var("SCANOPY_ADMIN_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty());
    auth::bootstrap_admin(&state, admin_password).await?;

    tokio::spawn(events::pump(state.clone()));
    tokio::spawn(jobs::background(state.clone()));
    tokio::spawn(webhooks::deliver(state.clone()));
    if !config.no_local_daemon {
        local::start(state.clone(), &config).await?;
    }

    let app = app(state.clone()).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let shutdown = async {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("a SIGTERM handler");
            tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("shutting down");
    };
    match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
                .await
                .map_err(|e| anyhow::anyhow!("cannot load the TLS certificate or key: {e}"))?;
            let handle = axum_server::Handle::new();
            let h = handle.clone();
            tokio::spawn(async move {
                shutdown.await;
                h.graceful_shutdown(Some(std::time::Duration::from_secs(5)));
            });
            eprintln!("scanopy-server: serving https://{}", config.listen);
            axum_server::bind_rustls(config.listen, tls)
                .handle(handle)
                .serve(app)
                .await?;
        }
        _ => {
            let listener = tokio::net::TcpListener::bind(config.listen)
                .await
                .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
            eprintln!("scanopy-server: serving http://{}", config.listen);
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await?;
        }
    }
    Ok(())
}

/// The binary's entry point.
pub fn main() -> ExitCode {
    // Whatever this process or SQLite creates is its owner's alone.
    scanopy_daemon::files::private_umask();
    let config = match ServerConfig::load() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    if config.log_json {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .json()
            .with_writer(std::io::stderr)
            .init();
    } else {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("scanopy-server: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("scanopy-server: {e:#}");
            ExitCode::FAILURE
        }
    }
}

pub mod local;
