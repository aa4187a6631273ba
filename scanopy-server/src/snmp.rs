//! A network's SNMP credentials: admins add them (`POST /networks/{id}/snmp-credentials`), see
//! what they are but never their secrets again (`GET`), and delete them; the server seals each
//! secret ([`crate::secrets`]) and hands the opened ones only to the daemons of that network,
//! with their jobs ([`crate::jobs::job_for`]). Nothing here logs a secret or puts one in an
//! error.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use scanopy_core::protocol::{JobSnmp, JobSnmpUser};
use scanopy_store::SnmpCredential;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::Admin;
use crate::error::{AdminErrors, ApiError, ApiJson, ApiResult, ErrorBody};
use crate::state::AppState;

/// A credential to add: a community, or an SNMPv3 user (protocols as net-snmp names them).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSnmpCredential {
    /// What to call it (default: `community` or `v3 NAME`).
    #[serde(default)]
    pub label: Option<String>,
    /// A community (v2c, then v1).
    #[serde(default)]
    pub community: Option<String>,
    /// An SNMPv3 user's name.
    #[serde(default)]
    pub user: Option<String>,
    /// `MD5`, `SHA`, `SHA-224`, `SHA-256`, `SHA-384` or `SHA-512` (authNoPriv, authPriv).
    #[serde(default)]
    pub auth_protocol: Option<String>,
    /// The authentication password (8 to 256 characters).
    #[serde(default)]
    pub auth_password: Option<String>,
    /// `AES` (authPriv).
    #[serde(default)]
    pub privacy_protocol: Option<String>,
    /// The privacy password (8 to 256 characters).
    #[serde(default)]
    pub privacy_password: Option<String>,
}

impl std::fmt::Debug for NewSnmpCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSnmpCredential")
            .field("label", &self.label)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// A credential as the API shows it: what it is, never its secret.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SnmpCredentialInfo {
    /// Its id.
    pub id: Uuid,
    /// Its network.
    pub network: Uuid,
    /// What it is called.
    pub label: String,
    /// `community` or `v3`.
    pub kind: String,
    /// A v3 user's name.
    pub user: Option<String>,
    /// A v3 user's authentication protocol.
    pub auth_protocol: Option<String>,
    /// A v3 user's privacy protocol.
    pub privacy_protocol: Option<String>,
    /// When it was added.
    pub created_at: DateTime<Utc>,
}

impl From<&SnmpCredential> for SnmpCredentialInfo {
    fn from(c: &SnmpCredential) -> Self {
        SnmpCredentialInfo {
            id: c.id,
            network: c.network,
            label: c.label.clone(),
            kind: c.kind.clone(),
            user: c.user.clone(),
            auth_protocol: c.auth_protocol.clone(),
            privacy_protocol: c.privacy_protocol.clone(),
            created_at: c.created_at,
        }
    }
}

/// What is sealed: the secret parts, as JSON.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Sealed {
    Community(String),
    User(JobSnmpUser),
}

fn parse_id(s: &str, what: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(s).map_err(|_| ApiError::not_found(format!("{what} {s:?}")))
}

async fn known_network(state: &AppState, id: &str) -> ApiResult<Uuid> {
    Ok(crate::api::network_named(state, id).await?.id)
}

/// `GET /networks/{id}/snmp-credentials`: in the order they are tried; secrets never shown.
#[utoipa::path(get, path = "/networks/{id}/snmp-credentials", tag = "inventory",
    params(("id" = Uuid, Path, description = "network id")),
    responses((status = 200, description = "the network's SNMP credentials, without their secrets", body = Vec<SnmpCredentialInfo>),
              (status = 404, description = "unknown network", body = ErrorBody), AdminErrors))]
pub async fn snmp_credentials(
    State(state): State<AppState>,
    _a: Admin,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Vec<SnmpCredentialInfo>>> {
    let network = known_network(&state, &id).await?;
    let list = state.store.snmp_credentials(network).await?;
    Ok(axum::Json(
        list.iter().map(SnmpCredentialInfo::from).collect(),
    ))
}

/// `POST /networks/{id}/snmp-credentials`: a community or an SNMPv3 user, last in the order.
#[utoipa::path(post, path = "/networks/{id}/snmp-credentials", tag = "inventory",
    request_body = NewSnmpCredential,
    params(("id" = Uuid, Path, description = "network id")),
    responses((status = 201, description = "added (its secret is not shown again)", body = SnmpCredentialInfo),
              (status = 404, description = "unknown network", body = ErrorBody),
              (status = 422, description = "a wrong field", body = ErrorBody), AdminErrors))]
pub async fn add_snmp_credential(
    State(state): State<AppState>,
    _a: Admin,
    Path(id): Path<String>,
    ApiJson(n): ApiJson<NewSnmpCredential>,
) -> ApiResult<(StatusCode, axum::Json<SnmpCredentialInfo>)> {
    let network = known_network(&state, &id).await?;
    let label = n.label.as_deref().map(str::trim).filter(|l| !l.is_empty());
    if label.is_some_and(|l| l.chars().count() > 100 || l.chars().any(char::is_control)) {
        return Err(ApiError::invalid(
            "label: at most 100 characters, none a control",
        ));
    }
    let (kind, label, sealed, user) = match (&n.community, &n.user) {
        (Some(c), None) => {
            if c.is_empty() || c.len() > 255 {
                return Err(ApiError::invalid("community: 1 to 255 bytes"));
            }
            if n.auth_protocol.is_some()
                || n.auth_password.is_some()
                || n.privacy_protocol.is_some()
                || n.privacy_password.is_some()
            {
                return Err(ApiError::invalid(
                    "a community has no protocols or passwords (those are a v3 user's)",
                ));
            }
            (
                "community",
                label.unwrap_or("community").to_owned(),
                Sealed::Community(c.clone()),
                None,
            )
        }
        (None, Some(name)) => {
            let auth = match (&n.auth_protocol, &n.auth_password) {
                (Some(p), Some(pw)) => Some((p.as_str(), pw.as_str())),
                (None, None) => None,
                _ => {
                    return Err(ApiError::invalid(
                        "auth_protocol and auth_password come together",
                    ));
                }
            };
            let privacy = match (&n.privacy_protocol, &n.privacy_password) {
                (Some(p), Some(pw)) => Some((p.as_str(), pw.as_str())),
                (None, None) => None,
                _ => {
                    return Err(ApiError::invalid(
                        "privacy_protocol and privacy_password come together",
                    ));
                }
            };
            let u =
                scanopy_daemon::setup::snmp_user(name, auth, privacy).map_err(ApiError::invalid)?;
            (
                "v3",
                label.map_or_else(|| format!("v3 {}", u.user), str::to_owned),
                Sealed::User(u.clone()),
                Some(u),
            )
        }
        _ => {
            return Err(ApiError::invalid(
                "give either community, or user (with its protocols and passwords)",
            ));
        }
    };
    let id = Uuid::new_v4();
    let plain = serde_json::to_vec(&sealed).map_err(|_| ApiError::bad_request("credential"))?;
    let c = SnmpCredential {
        id,
        network,
        label,
        kind: kind.to_owned(),
        user: user.as_ref().map(|u| u.user.clone()),
        auth_protocol: user.as_ref().and_then(|u| u.auth_protocol.clone()),
        privacy_protocol: user.as_ref().and_then(|u| u.privacy_protocol.clone()),
        sealed: state.secrets.seal(id, network, &plain),
        created_at: Utc::now(),
    };
    let c = state.store.add_snmp_credential(c).await?;
    tracing::info!(network = %network, credential = %c.id, kind, "SNMP credential added");
    Ok((
        StatusCode::CREATED,
        axum::Json(SnmpCredentialInfo::from(&c)),
    ))
}

/// `DELETE /networks/{id}/snmp-credentials/{credential}`.
#[utoipa::path(delete, path = "/networks/{id}/snmp-credentials/{credential}", tag = "inventory",
    params(("id" = Uuid, Path, description = "network id"),
           ("credential" = Uuid, Path, description = "credential id")),
    responses((status = 204, description = "deleted"),
              (status = 404, description = "unknown", body = ErrorBody), AdminErrors))]
pub async fn delete_snmp_credential(
    State(state): State<AppState>,
    _a: Admin,
    Path((id, credential)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let network = parse_id(&id, "network")?;
    let credential = parse_id(&credential, "SNMP credential")?;
    state
        .store
        .delete_snmp_credential(network, credential)
        .await?;
    tracing::info!(network = %network, credential = %credential, "SNMP credential deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// The opened SNMP credentials of `network`, in order, for a job of one of its daemons. One
/// that does not open (another server's key) is left out with a warning naming its id.
pub async fn network_secrets(state: &AppState, network: Uuid) -> ApiResult<JobSnmp> {
    let mut out = JobSnmp::default();
    for c in state.store.snmp_credentials(network).await? {
        let opened = state
            .secrets
            .open(c.id, c.network, &c.sealed)
            .ok()
            .and_then(|b| serde_json::from_slice::<Sealed>(&b).ok());
        match opened {
            Some(Sealed::Community(s)) => out.communities.push(s),
            Some(Sealed::User(u)) => out.users.push(u),
            None => tracing::warn!(
                credential = %c.id,
                network = %network,
                "an SNMP credential does not open with this server's secret-key; left out"
            ),
        }
    }
    Ok(out)
}
