//! The harness the suites share: an application over an in-memory (or given) store with the
//! first admin and an admin API token, called without a socket.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use scanopy_server::{AppState, StateConfig, app, auth};
use scanopy_store::prelude::*;
use scanopy_store::{CredentialKind, NewCredential, Role, SqlStore};
use serde_json::{Value, json};
use tower::ServiceExt;

/// The first admin's password.
pub(crate) const PASSWORD: &str = "correct horse battery staple";

/// The application, its state and an admin API token.
pub(crate) struct Api {
    pub(crate) app: Router,
    pub(crate) state: AppState,
    pub(crate) admin: String,
}

impl Api {
    /// Over a fresh in-memory store, with the default settings.
    pub(crate) async fn new() -> Api {
        Self::with_sign_in(Default::default()).await
    }

    /// Over a fresh in-memory store, with these sign-in settings.
    pub(crate) async fn with_sign_in(sign_in: scanopy_server::signin::SignInConfig) -> Api {
        Self::with(|c| c.sign_in = sign_in).await
    }

    /// Over a fresh in-memory store, with the settings `set` makes.
    pub(crate) async fn with(set: impl FnOnce(&mut StateConfig)) -> Api {
        let store: Arc<dyn Store> = Arc::new(SqlStore::in_memory().await.unwrap());
        let mut config = StateConfig::new(scanopy_daemon::push::generate_key());
        set(&mut config);
        Self::build(store, config).await
    }

    /// Over `store`, as the server of instance `instance`.
    pub(crate) async fn over(store: Arc<dyn Store>, instance: &str) -> Api {
        let config = StateConfig {
            instance: instance.to_owned(),
            ..StateConfig::new(scanopy_daemon::push::generate_key())
        };
        Self::build(store, config).await
    }

    async fn build(store: Arc<dyn Store>, config: StateConfig) -> Api {
        let state = AppState::build(store, config);
        auth::bootstrap_admin(&state, Some(PASSWORD.into()))
            .await
            .unwrap();
        let (_, admin) = state
            .store
            .create_credential(NewCredential {
                kind: CredentialKind::ApiToken,
                name: "admin".into(),
                role: Role::Admin,
                network: None,
                user: None,
                expires_at: None,
            })
            .await
            .unwrap();
        Api {
            app: app(state.clone()),
            state,
            admin,
        }
    }

    /// Sends `req`; the status, headers and body.
    pub(crate) async fn raw(&self, req: Request<Body>) -> (StatusCode, HeaderMap, Vec<u8>) {
        let r = self.app.clone().oneshot(req).await.unwrap();
        let status = r.status();
        let headers = r.headers().clone();
        let body = r.into_body().collect().await.unwrap().to_bytes().to_vec();
        (status, headers, body)
    }

    /// Sends a request with an optional bearer token and JSON body; the status and the body as
    /// JSON (or as a JSON string when it is not JSON).
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        auth: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut b = Request::builder().method(method).uri(path);
        if let Some(t) = auth {
            b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let req = match body {
            Some(v) => b
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(v.to_string()))
                .unwrap(),
            None => b.body(Body::empty()).unwrap(),
        };
        let (status, _, bytes) = self.raw(req).await;
        let v = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        (status, v)
    }

    /// `GET` as the admin.
    pub(crate) async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(&self.admin.clone()), None)
            .await
    }

    /// `POST` as the admin.
    pub(crate) async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(&self.admin.clone()), Some(body))
            .await
    }

    /// A new network `lab` of 10.77.0.0/24; its id.
    pub(crate) async fn network(&self) -> String {
        let (s, v) = self
            .post(
                "/api/v1/networks",
                json!({"name": "lab", "subnets": ["10.77.0.0/24"]}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v["id"].as_str().unwrap().to_owned()
    }
}
