//! Users and their roles (`/users`, admins only), and what each user does about their own
//! account (`/me/password`, `/me/sessions`).
//!
//! Three roles: `admin` (everything), `editor` (scans and device edits, and reading), `viewer`
//! (reading). A session is its user: a role an admin changes counts from the user's next
//! request, and disabling a user ends its sessions and refuses its tokens (see the store's
//! `verify_credential`). There is always an enabled admin: the store refuses the change that
//! would leave none (409).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use scanopy_store::{CredentialKind, Role, User};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::api::Items;
use crate::auth::{Admin, Caller, Peer};
use crate::error::{AdminErrors, ApiError, ApiJson, ApiResult, CallerErrors, ErrorBody};
use crate::signin::{self, Verdict};
use crate::state::AppState;

fn parse_id(s: &str, what: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(s).map_err(|_| ApiError::not_found(format!("{what} {s}")))
}

fn user_role(field: &str, s: &str) -> ApiResult<Role> {
    Role::parse(s)
        .filter(|r| *r != Role::Daemon)
        .ok_or_else(|| ApiError::invalid(format!("{field}: {s:?} is not admin, editor or viewer")))
}

/// A user to make.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// The sign-in name: 1 to 64 characters, unique.
    pub username: String,
    /// 12 to 1,024 characters; stored as an argon2id hash.
    pub password: String,
    /// `admin`, `editor` or `viewer` (the default).
    #[serde(default)]
    pub role: Option<String>,
}

/// An admin's change to a user; absent fields stay as they are.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    /// `admin`, `editor` or `viewer`.
    #[serde(default)]
    pub role: Option<String>,
    /// Disabled users cannot sign in; their sessions end and their tokens are refused.
    #[serde(default)]
    pub disabled: Option<bool>,
    /// A new password (12 to 1,024 characters); ends the user's sessions.
    #[serde(default)]
    pub password: Option<String>,
}

/// `GET /users`: every user, by name.
#[utoipa::path(get, path = "/users", tag = "auth",
    responses((status = 200, description = "users, by name", body = Items<crate::schema::User>), AdminErrors))]
pub async fn users(State(state): State<AppState>, _a: Admin) -> ApiResult<axum::Json<Items<User>>> {
    Ok(axum::Json(Items::new(state.store.users().await?, None)))
}

/// `POST /users`.
#[utoipa::path(post, path = "/users", tag = "auth", request_body = NewUser,
    responses((status = 201, description = "the user", body = crate::schema::User),
              (status = 409, description = "the name is taken", body = ErrorBody),
              (status = 422, description = "a wrong field", body = ErrorBody), AdminErrors))]
pub async fn create_user(
    State(state): State<AppState>,
    Admin(caller): Admin,
    ApiJson(u): ApiJson<NewUser>,
) -> ApiResult<(StatusCode, axum::Json<User>)> {
    let role = match u.role.as_deref() {
        None => Role::Viewer,
        Some(r) => user_role("role", r)?,
    };
    let name = u.username.trim();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "username: 1 to 64 characters, no control characters",
        ));
    }
    let user = state.store.create_user(name, &u.password, role).await?;
    tracing::info!(user = %user.username, role = role.as_str(), by = %caller.username, "user created");
    Ok((StatusCode::CREATED, axum::Json(user)))
}

/// `PATCH /users/{id}`: role, disabled, password.
#[utoipa::path(patch, path = "/users/{id}", tag = "auth", request_body = UserPatch,
    params(("id" = Uuid, Path, description = "user id")),
    responses((status = 200, description = "the user", body = crate::schema::User),
              (status = 404, description = "unknown", body = ErrorBody),
              (status = 409, description = "it would leave no enabled admin", body = ErrorBody),
              (status = 422, description = "a wrong field", body = ErrorBody), AdminErrors))]
pub async fn patch_user(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Path(id): Path<String>,
    ApiJson(p): ApiJson<UserPatch>,
) -> ApiResult<axum::Json<User>> {
    let id = parse_id(&id, "user")?;
    let role = p
        .role
        .as_deref()
        .map(|r| user_role("role", r))
        .transpose()?;
    // Checked before anything changes: a bad password leaves the role as it was.
    if let Some(pw) = &p.password {
        let n = pw.chars().count();
        if !(12..=1024).contains(&n) {
            return Err(ApiError::invalid("password: 12 to 1,024 characters"));
        }
    }
    let mut user = state.store.user(id).await?;
    if role.is_some() || p.disabled.is_some() {
        user = state.store.update_user(id, role, p.disabled).await?;
    }
    if let Some(pw) = &p.password {
        state.store.set_user_password(id, pw, None).await?;
    }
    tracing::info!(user = %user.username, by = %caller.username, "user changed");
    Ok(axum::Json(user))
}

/// A password change.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    /// The password now.
    pub current_password: String,
    /// The new one: 12 to 1,024 characters.
    pub new_password: String,
}

/// `PUT /me/password`: the caller changes their own password; their other sessions end.
/// A wrong current password counts as a failed sign-in (same limits, 429 past them).
#[utoipa::path(put, path = "/me/password", tag = "auth", request_body = PasswordChange,
    responses((status = 204, description = "changed; the user's other sessions ended"),
              (status = 403, description = "the current password is wrong, or the caller is a token of no user", body = ErrorBody),
              (status = 422, description = "a wrong field", body = ErrorBody),
              (status = 429, description = "too many failed attempts from this address", body = ErrorBody),
              (status = 503, description = "too many password checks at once; retry", body = ErrorBody), CallerErrors))]
pub async fn change_password(
    State(state): State<AppState>,
    caller: Caller,
    Peer(peer): Peer,
    headers: HeaderMap,
    ApiJson(c): ApiJson<PasswordChange>,
) -> ApiResult<StatusCode> {
    let Some(uid) = caller.user else {
        return Err(ApiError::forbidden("this token belongs to no user"));
    };
    let n = c.new_password.chars().count();
    if !(12..=1024).contains(&n) {
        return Err(ApiError::invalid("new_password: 12 to 1,024 characters"));
    }
    let user = state.store.user(uid).await?;
    let address = signin::address_key(state.sign_in.client(peer, &headers));
    let name = user.username.to_lowercase();
    match state.sign_in.begin(&address, &name) {
        Verdict::Go(d) => tokio::time::sleep(d).await,
        Verdict::Refuse(_) => {
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                "too many wrong passwords from this address; wait a minute",
            ));
        }
    }
    let checked = state
        .sign_in
        .check(
            state
                .store
                .verify_password(&user.username, &c.current_password),
        )
        .await;
    match checked {
        Err(signin::Busy) => {
            state.sign_in.take_back(&address, &name, false);
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "too many password checks at once; retry in a few seconds",
            ));
        }
        Ok(Err(e)) => {
            state.sign_in.take_back(&address, &name, false);
            return Err(e.into());
        }
        Ok(Ok(None)) => {
            return Err(ApiError::forbidden("current_password: wrong password"));
        }
        Ok(Ok(Some(_))) => state.sign_in.take_back(&address, &name, true),
    }
    let keep = (caller.via == "session").then_some(caller.credential);
    state
        .store
        .set_user_password(uid, &c.new_password, keep)
        .await?;
    tracing::info!(user = %user.username, "password changed");
    Ok(StatusCode::NO_CONTENT)
}

/// One of the caller's sessions.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Session {
    /// Its id (not its secret), to end it.
    pub id: Uuid,
    /// When it began (the sign-in).
    pub created_at: DateTime<Utc>,
    /// When it was last used (to the minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it ends by itself.
    pub expires_at: Option<DateTime<Utc>>,
    /// Whether it is the session of this request.
    pub current: bool,
}

/// `GET /me/sessions`: the caller's user's sessions that have not ended, newest first.
#[utoipa::path(get, path = "/me/sessions", tag = "auth",
    responses((status = 200, description = "sessions", body = Items<Session>), CallerErrors))]
pub async fn sessions(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<axum::Json<Items<Session>>> {
    let list = match caller.user {
        Some(u) => state
            .store
            .user_credentials(u, CredentialKind::Session)
            .await?
            .into_iter()
            .map(|c| Session {
                current: caller.via == "session" && c.id == caller.credential,
                id: c.id,
                created_at: c.created_at,
                last_used_at: c.last_used_at,
                expires_at: c.expires_at,
            })
            .collect(),
        None => Vec::new(),
    };
    Ok(axum::Json(Items::new(list, None)))
}

/// `DELETE /me/sessions/{id}`: ends one of the caller's sessions (the current one too: that
/// is signing out).
#[utoipa::path(delete, path = "/me/sessions/{id}", tag = "auth",
    params(("id" = Uuid, Path, description = "session id")),
    responses((status = 204, description = "ended"),
              (status = 404, description = "unknown, ended, or another user's", body = ErrorBody), CallerErrors))]
pub async fn end_session(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = parse_id(&id, "session")?;
    let own = match caller.user {
        Some(u) => state
            .store
            .user_credentials(u, CredentialKind::Session)
            .await?
            .iter()
            .any(|c| c.id == id),
        None => false,
    };
    if !own {
        return Err(ApiError::not_found(format!("session {id}")));
    }
    state
        .store
        .revoke_credential(CredentialKind::Session, id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
