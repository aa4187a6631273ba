//! Sign-in, sessions, API tokens and daemon keys.
//!
//! Browsers hold a session cookie (HttpOnly, SameSite=Strict, Secure under TLS); scripts send
//! `Authorization: Bearer st_…`; daemons send `Authorization: Bearer sk_…`, which is good only
//! for the daemon protocol and only for its network. Every secret is kept as a hash by the
//! store, shown once, revocable, and never logged.

use std::net::SocketAddr;

use anyhow::Context;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::header::{AUTHORIZATION, COOKIE, RETRY_AFTER, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use scanopy_store::{Credential, CredentialKind, NewCredential, Role};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{ApiError, ApiJson, ApiResult, ErrorBody};
use crate::signin::{self, Verdict};
use crate::state::AppState;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "scanopy_session";
/// How long a session lasts.
pub const SESSION_DAYS: i64 = 7;

/// Who is calling: a signed-in user or an API token.
#[derive(Debug, Clone, Serialize)]
pub struct Caller {
    /// The user (a token's owner).
    pub user: Option<Uuid>,
    /// A name for logs and the UI: the user name of a session, the name of an API token.
    pub username: String,
    /// What the caller may do.
    pub role: Role,
    /// `session` (the UI's cookie) or `token` (an API token), for the audit trail.
    pub via: &'static str,
    /// The session's or token's id (not its secret).
    pub credential: Uuid,
    /// The client's address (the TCP peer, or what a trusted proxy says), when known.
    pub address: Option<std::net::IpAddr>,
}

/// A caller with the admin role.
#[derive(Debug, Clone)]
pub struct Admin(pub Caller);

/// A caller with the editor role or above: may scan and edit devices.
#[derive(Debug, Clone)]
pub struct Editor(pub Caller);

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The user credential a request presents: a bearer API token, else the session cookie.
pub fn presented(headers: &HeaderMap) -> Option<(CredentialKind, &str)> {
    if let Some(token) = bearer(headers) {
        Some((CredentialKind::ApiToken, token))
    } else {
        cookie(headers, SESSION_COOKIE).map(|s| (CredentialKind::Session, s))
    }
}

async fn caller_of(parts: &Parts, state: &AppState) -> ApiResult<Caller> {
    let store = &state.store;
    let Some((kind, secret)) = presented(&parts.headers) else {
        return Err(ApiError::unauthorized());
    };
    let cred = store
        .verify_credential(kind, secret)
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    Ok(Caller {
        user: cred.user,
        username: cred.name.clone(),
        role: cred.role,
        credential: cred.id,
        via: if kind == CredentialKind::Session {
            "session"
        } else {
            "token"
        },
        address: state.sign_in.client(peer, &parts.headers),
    })
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let c = caller_of(parts, state).await?;
        if let Some(slot) = parts.extensions.get::<crate::audit::AuditSlot>()
            && let Ok(mut s) = slot.0.lock()
        {
            *s = Some(c.clone());
        }
        if c.role == Role::Daemon {
            return Err(ApiError::forbidden(
                "a daemon key is for the daemon protocol",
            ));
        }
        Ok(c)
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let c = Caller::from_request_parts(parts, state).await?;
        if !c.role.covers(Role::Admin) {
            return Err(ApiError::forbidden("this needs the admin role"));
        }
        Ok(Admin(c))
    }
}

impl FromRequestParts<AppState> for Editor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let c = Caller::from_request_parts(parts, state).await?;
        if !c.role.covers(Role::Editor) {
            return Err(ApiError::forbidden("this needs the editor role (or admin)"));
        }
        Ok(Editor(c))
    }
}

/// A daemon, known by its key.
#[derive(Debug, Clone)]
pub struct DaemonCaller(pub Credential);

impl FromRequestParts<AppState> for DaemonCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let Some(secret) = bearer(&parts.headers) else {
            return Err(ApiError::unauthorized());
        };
        match state
            .store
            .verify_credential(CredentialKind::DaemonKey, secret)
            .await?
        {
            Some(c) => Ok(DaemonCaller(c)),
            None => {
                let peer = parts
                    .extensions
                    .get::<ConnectInfo<SocketAddr>>()
                    .map(|c| c.0.ip());
                // The key itself is never logged.
                tracing::warn!(peer = ?peer, "a daemon key was refused");
                Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "the daemon key is unknown or revoked",
                ))
            }
        }
    }
}

/// The TCP peer's address, when the server listens on a socket (tests calling `app` directly
/// may put a `ConnectInfo<SocketAddr>` in the request's extensions; without one it is `None`).
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub Option<std::net::IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Peer(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}

/// Who is signed in (`POST /auth/login`, `GET /me`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Whoami {
    /// The user's id (absent for an API token that belongs to no user).
    pub id: Option<Uuid>,
    /// The user name (of a token: the token's name).
    pub username: String,
    /// `admin`, `editor` or `viewer` (of a token: the lesser of its own and its user's).
    #[schema(value_type = String)]
    pub role: Role,
    /// `session` or `token`.
    pub via: &'static str,
}

/// The sign-in form.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    /// The user name.
    pub username: String,
    /// The password in clear; checked against the stored hash, never stored itself.
    pub password: String,
}

/// Signs in: sets the session cookie.
///
/// Limits (see [`crate::signin`]): failures are counted per client address (IPv6 by /64) and
/// per user name and address, and past a limit only that address is refused (429); a user
/// name's failures from every address only slow its sign-ins. Password checks are bounded by
/// a semaphore; a sign-in that cannot get one in time is answered 503.
#[utoipa::path(post, path = "/auth/login", request_body = Login, tag = "auth",
    responses((status = 200, description = "signed in; the session cookie is set", body = Whoami),
              (status = 401, description = "wrong user name or password", body = ErrorBody),
              (status = 422, description = "a wrong field", body = ErrorBody),
              (status = 429, description = "too many failed sign-ins from this address", body = ErrorBody),
              (status = 503, description = "too many sign-ins being checked; retry", body = ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    Peer(peer): Peer,
    headers: HeaderMap,
    ApiJson(form): ApiJson<Login>,
) -> ApiResult<Response> {
    if form.username.is_empty() || form.username.chars().count() > 64 {
        return Err(ApiError::invalid("username: 1 to 64 characters"));
    }
    let client = state.sign_in.client(peer, &headers);
    let address = signin::address_key(client);
    let name = form.username.trim().to_lowercase();
    let delay = match state.sign_in.begin(&address, &name) {
        Verdict::Go(d) => d,
        Verdict::Refuse(left) => {
            state.metrics.inc("login_throttled");
            tracing::warn!(user = ?form.username, address = %address, "sign-in attempts from this address throttled");
            let mut r = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                "too many failed sign-ins from this address; wait a minute",
            )
            .into_response();
            r.headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(left.as_secs().max(1)));
            return Ok(r);
        }
    };
    if !delay.is_zero() {
        // Many failures for this name from several addresses: slower, never refused.
        state.metrics.inc("login_slowed");
        tokio::time::sleep(delay).await;
    }
    let checked = state
        .sign_in
        .check(state.store.verify_password(&form.username, &form.password))
        .await;
    let user = match checked {
        Err(signin::Busy) => {
            state.sign_in.take_back(&address, &name, false);
            state.metrics.inc("login_busy");
            tracing::warn!("a sign-in waited too long for a password check; answered 503");
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "too many sign-ins at once; retry in a few seconds",
            ));
        }
        Ok(Err(e)) => {
            state.sign_in.take_back(&address, &name, false);
            return Err(e.into());
        }
        Ok(Ok(None)) => {
            state.metrics.inc("login_failed");
            tracing::info!(user = ?form.username, address = %address, "a sign-in failed");
            crate::audit::write(
                &state,
                &form.username,
                "session",
                client,
                "sign_in_failed",
                None,
                serde_json::json!({}),
            )
            .await;
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "wrong user name or password",
            ));
        }
        Ok(Ok(Some(user))) => user,
    };
    state.sign_in.take_back(&address, &name, true);
    let (_, secret) = state
        .store
        .create_credential(NewCredential {
            kind: CredentialKind::Session,
            name: user.username.clone(),
            role: user.role,
            network: None,
            user: Some(user.id),
            expires_at: Some(Utc::now() + chrono::Duration::days(SESSION_DAYS)),
        })
        .await?;
    tracing::info!(user = %user.username, "signed in");
    crate::audit::write(
        &state,
        &user.username,
        "session",
        client,
        "sign_in",
        Some(user.id.to_string()),
        serde_json::json!({}),
    )
    .await;
    let cookie = format!(
        "{SESSION_COOKIE}={secret}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        SESSION_DAYS * 86_400,
        if state.secure_cookies { "; Secure" } else { "" }
    );
    let mut r = axum::Json(Whoami {
        id: Some(user.id),
        username: user.username,
        role: user.role,
        via: "session",
    })
    .into_response();
    r.headers_mut().insert(
        SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(|_| ApiError::bad_request("bad cookie"))?,
    );
    Ok(r)
}

/// Signs out: ends the session.
#[utoipa::path(post, path = "/auth/logout", tag = "auth",
    responses((status = 204, description = "signed out")))]
pub async fn logout(
    State(state): State<AppState>,
    Peer(peer): Peer,
    headers: HeaderMap,
) -> ApiResult<Response> {
    if let Some(s) = cookie(&headers, SESSION_COOKIE)
        && let Some(c) = state
            .store
            .verify_credential(CredentialKind::Session, s)
            .await?
    {
        state
            .store
            .revoke_credential(CredentialKind::Session, c.id)
            .await?;
        crate::audit::write(
            &state,
            &c.name,
            "session",
            state.sign_in.client(peer, &headers),
            "sign_out",
            c.user.map(|u| u.to_string()),
            serde_json::json!({}),
        )
        .await;
    }
    let mut r = StatusCode::NO_CONTENT.into_response();
    r.headers_mut().insert(
        SET_COOKIE,
        HeaderValue::from_static("scanopy_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    Ok(r)
}

/// Creates the first admin at first start: the password from `SCANOPY_ADMIN_PASSWORD`, or a
/// generated one printed once on the console (stderr, not the logger).
pub async fn bootstrap_admin(state: &AppState, given: Option<String>) -> anyhow::Result<()> {
    if state.store.user_count().await? > 0 {
        return Ok(());
    }
    let (password, generated) = match given {
        Some(p) => (p, false),
        None => {
            use base64::Engine;
            use rand::RngCore;
            let mut b = [0u8; 18];
            rand::rngs::OsRng.fill_bytes(&mut b);
            (
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b),
                true,
            )
        }
    };
    state
        .store
        .create_user("admin", &password, Role::Admin)
        .await
        .context("cannot create the admin account")?;
    if generated {
        // On the console only, once: not through the logger, whose output may be collected.
        eprintln!(
            "\n  scanopy: created the user \"admin\" with the password\n\n      {password}\n\n  \
             It is shown this once. Set SCANOPY_ADMIN_PASSWORD before the first start to choose it.\n"
        );
    } else {
        tracing::info!("created the user \"admin\" with the password from SCANOPY_ADMIN_PASSWORD");
    }
    Ok(())
}
