//! Errors as the API answers them: `{"error": {"code": "…", "message": "…"}}` with the fitting
//! status, and a JSON extractor whose rejections take the same shape.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use scanopy_store::StoreError;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable code for programs.
    pub code: &'static str,
    /// Words for people.
    pub message: String,
}

impl ApiError {
    /// An error with a status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400 Bad Request: the request could not be read (e.g. a body that is not JSON).
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 422: the body parsed but a field is wrong.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message)
    }

    /// 404 Not Found, saying "`what` not found" (`what` names it: `device 1234…`).
    pub fn not_found(what: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    /// 401 Unauthorized: no valid session cookie or bearer token came with the request.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "sign in, or send Authorization: Bearer TOKEN",
        )
    }

    /// 403 Forbidden: the caller is known, but its role or key may not do this.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }
}

/// The body of every error answer: `{"error": {"code": "…", "message": "…"}}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// What went wrong, for programs and for people.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// A stable code for programs (`not_found`, `invalid`, `unauthorized`, `conflict`, …).
    pub code: &'static str,
    /// Words for people.
    pub message: String,
}

/// The errors of a route any caller with a credential may use.
#[derive(utoipa::IntoResponses)]
pub enum CallerErrors {
    /// No valid session cookie, API token or daemon key.
    #[response(status = 401)]
    Unauthorized(ErrorBody),
}

/// The errors of an admin's route.
#[derive(utoipa::IntoResponses)]
pub enum AdminErrors {
    /// No valid session cookie or API token.
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// The caller is not an admin.
    #[response(status = 403)]
    Forbidden(ErrorBody),
}

/// The errors of an editor's route (scans, device edits).
#[derive(utoipa::IntoResponses)]
pub enum EditorErrors {
    /// No valid session cookie or API token.
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// The caller is a viewer.
    #[response(status = 403)]
    Forbidden(ErrorBody),
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
            },
        };
        let mut r = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            r.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("5"),
            );
        }
        r
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let message = e.to_string();
        match e {
            StoreError::NotFound(what) => ApiError::not_found(what),
            StoreError::BadRequest(m) => ApiError::invalid(m),
            StoreError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "conflict", m),
            // A results batch the run does not take: the daemon must not send it again.
            StoreError::Refused { code, message } => {
                ApiError::new(StatusCode::CONFLICT, code, message)
            }
            StoreError::Unavailable { .. } => {
                tracing::warn!(error = %message, cause = %e.causes(), "store unavailable");
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
            }
            StoreError::TooNew { .. } | StoreError::Internal { .. } => {
                // The cause reaches the log, never the client.
                tracing::error!(error = %message, cause = %e.causes(), "store error");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
            }
        }
    }
}

/// A JSON body whose rejections are API errors naming the problem: 400 for malformed JSON or a
/// missing content type, 422 for a wrong or missing field, 413 for an oversize body.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(rejection_error(rejection)),
        }
    }
}

fn rejection_error(r: JsonRejection) -> ApiError {
    let status = r.status();
    let text = r.body_text();
    match r {
        JsonRejection::JsonDataError(_) => ApiError::invalid(text),
        JsonRejection::JsonSyntaxError(_) => ApiError::bad_request(text),
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as JSON with Content-Type: application/json",
        ),
        _ if status == StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            status,
            "too_large",
            "the request body is larger than this route accepts",
        ),
        _ => ApiError::new(status, "bad_request", text),
    }
}

/// Result alias for handlers.
pub type ApiResult<T> = Result<T, ApiError>;
