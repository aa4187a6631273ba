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

pub mod alerts;
pub mod api;
pub mod audit;
pub mod auth;
pub mod cache;
pub mod changes;
pub mod config;
pub mod error;
pub mod events;
pub mod jobs;
pub mod metrics;
pub mod push;
pub mod schema;
pub mod secrets;
pub mod signin;
pub mod snmp;
pub mod state;
pub mod ui;
pub mod users;
pub mod webhooks;

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use scanopy_store::SqlStore;
use scanopy_store::prelude::*;
use utoipa::OpenApi;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

pub use config::ServerConfig;
pub use state::{AppState, StateConfig};

use crate::error::ApiError;

/// The most a request body may hold, but for daemon results.
pub const BODY_LIMIT: usize = 1 << 20;
/// The most a daemon results batch may hold.
pub const RESULTS_LIMIT: usize = 32 << 20;

/// What the OpenAPI document says beyond its paths: title, security schemes. The paths and
/// their schemas come from [`api_routes`], the one list of the API's routes.
#[derive(OpenApi)]
#[openapi(
    info(title = "scanopy", description = "Network discovery and documentation: the server's API."),
    components(schemas(auth::Login, api::DevicePatch, api::NewNetwork, api::NewScan, api::NewKey, api::NewWebhook, api::NewAlert, api::PushUrl, users::NewUser, users::UserPatch, users::PasswordChange, state::ScanUpdate, schema::Event)),
    modifiers(&Security),
    security(("bearer" = []), ("session" = [])),
)]
pub struct ApiDoc;

/// The routes under `/api/v1`, each with its OpenAPI operation (paths relative to `/api/v1`):
/// the router serves them and the document lists them from this one list.
pub fn api_routes() -> OpenApiRouter<AppState> {
    let daemon = OpenApiRouter::new()
        .routes(routes!(jobs::register))
        .routes(routes!(jobs::heartbeat))
        .routes(routes!(jobs::poll))
        .routes(routes!(jobs::listen))
        .routes(routes!(jobs::results).layer(DefaultBodyLimit::max(RESULTS_LIMIT)))
        .routes(routes!(jobs::progress))
        .routes(routes!(jobs::finish));
    OpenApiRouter::new()
        .routes(routes!(api::health))
        .routes(routes!(auth::login))
        .routes(routes!(auth::logout))
        .routes(routes!(api::me))
        .routes(routes!(users::change_password))
        .routes(routes!(users::sessions))
        .routes(routes!(users::end_session))
        .routes(routes!(users::users, users::create_user))
        .routes(routes!(users::patch_user))
        .routes(routes!(api::status))
        .routes(routes!(api::devices))
        .routes(routes!(api::device, api::patch_device, api::delete_device))
        .routes(routes!(api::services))
        .routes(routes!(api::export))
        .routes(routes!(changes::changes))
        .routes(routes!(changes::device_presence))
        .routes(routes!(changes::presence_of))
        .routes(routes!(api::networks, api::create_network))
        .routes(routes!(api::patch_network))
        .routes(routes!(api::suggested_subnets))
        .routes(routes!(snmp::snmp_credentials, snmp::add_snmp_credential))
        .routes(routes!(snmp::delete_snmp_credential))
        .routes(routes!(api::topology))
        .routes(routes!(api::scans, api::create_scan))
        .routes(routes!(api::scanners))
        .routes(routes!(api::scan))
        .routes(routes!(api::cancel_scan))
        .routes(routes!(api::schedules, api::create_schedule))
        .routes(routes!(api::delete_schedule))
        .routes(routes!(api::events))
        .routes(routes!(events::stream))
        .routes(routes!(api::daemons))
        .routes(routes!(api::set_push_url))
        .routes(routes!(api::daemon_keys, api::create_daemon_key))
        .routes(routes!(api::revoke_daemon_key))
        .routes(routes!(api::tokens, api::create_token))
        .routes(routes!(api::revoke_token))
        .routes(routes!(api::webhooks, api::create_webhook))
        .routes(routes!(api::delete_webhook))
        .routes(routes!(api::alerts, api::create_alert))
        .routes(routes!(api::delete_alert))
        .routes(routes!(api::test_alert))
        .routes(routes!(audit::audit))
        .routes(routes!(api::metrics))
        .nest("/daemon", daemon)
}

/// The OpenAPI document served at `/api/v1/openapi.json`.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest("/api/v1", api_routes())
        .into_openapi()
}

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
    static DOCUMENT: std::sync::LazyLock<utoipa::openapi::OpenApi> =
        std::sync::LazyLock::new(openapi_document);
    axum::Json(&*DOCUMENT)
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
    let v1 = Router::from(api_routes())
        .route("/openapi.json", get(openapi))
        .fallback(api_not_found)
        .layer(middleware::from_fn_with_state(state.clone(), audit::layer));
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
            let tightened = SqlStore::private_files(&db)
                .with_context(|| format!("cannot make the database {} private", db.display()))?;
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
    scanopy_daemon::files::private_dir(&config.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {}",
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
    // Checked before anything is opened or written.
    let smtp = match &config.smtp_url {
        Some(url) => Some(alerts::Smtp::new(url, &config.smtp_from).map_err(anyhow::Error::msg)?),
        None => None,
    };
    let store = open_store(&config).await?;
    let key = push::load_or_create_key(&config.data_dir)?;
    let instance = push::load_or_create_instance(&config.data_dir)?;
    let secrets = secrets::SecretBox::load_or_create(&config.data_dir)?;
    let state = AppState::build(
        store,
        StateConfig {
            signing_key: key,
            secure_cookies: config.tls_cert.is_some(),
            sign_in: signin::SignInConfig {
                trusted_proxies: config.trusted_proxies.clone(),
                ..Default::default()
            },
            instance,
            run_limits: scanopy_store::RunLimits {
                max_devices: config.run_max_devices,
                max_observations: config.run_max_observations,
            },
            secrets: Some(std::sync::Arc::new(secrets)),
            smtp,
        },
    );
    let admin_password = std::env::var("SCANOPY_ADMIN_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty());
    auth::bootstrap_admin(&state, admin_password).await?;

    tokio::spawn(events::pump(state.clone()));
    tokio::spawn(jobs::background(state.clone()));
    tokio::spawn(webhooks::deliver(state.clone()));
    tokio::spawn(alerts::run(state.clone()));
    tokio::spawn(alerts::digests(state.clone()));
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
                .context("cannot load the TLS certificate or key")?;
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
                .with_context(|| format!("cannot listen on {}", config.listen))?;
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
    if let Some(kind) = config.generate {
        let cmd = <ServerConfig as clap::CommandFactory>::command();
        return scanopy_daemon::generate::to_stdout(kind, cmd);
    }
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
