//! Extractors that turn bad requests into problems with precise codes.

use actix_web::{
    FromRequest, HttpRequest,
    dev::Payload,
    http::{StatusCode, header},
    web,
};
use futures_util::future::{LocalBoxFuture, Ready, ready};
use serde::de::DeserializeOwned;

use crate::error::{ApiError, FieldError};

/// The most a JSON request body may weigh.
pub const MAX_JSON_BODY_BYTES: usize = 64 * 1024;

/// A JSON body: `application/json` (or `+json`) only, at most `LIMIT` bytes, and deserialized
/// with the path of the first offending field. Unknown fields are refused by the target types.
#[derive(Debug)]
pub struct JsonBody<T, const LIMIT: usize = MAX_JSON_BODY_BYTES>(pub T);

/// Reads the whole payload, refusing it as soon as it passes `limit` bytes.
pub(crate) async fn read_bounded(
    mut payload: Payload,
    limit: usize,
) -> Result<web::BytesMut, ApiError> {
    use futures_util::StreamExt;
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|error| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "unreadable_body",
                error.to_string(),
            )
        })?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("the body must be at most {limit} bytes"),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Whether the request's `Content-Length` announces more than `limit` bytes.
pub(crate) fn declares_more_than(req: &HttpRequest, limit: usize) -> bool {
    req.headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.parse::<usize>().ok())
        .is_some_and(|length| length > limit)
}

fn is_json(req: &HttpRequest) -> bool {
    let Some(value) = req.headers().get(header::CONTENT_TYPE) else {
        return false;
    };
    let Ok(text) = value.to_str() else {
        return false;
    };
    let essence = text
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

fn field_code(message: &str) -> &'static str {
    if message.starts_with("unknown field") {
        "unknown_field"
    } else if message.starts_with("missing field") {
        "missing_field"
    } else if message.starts_with("invalid type") {
        "invalid_type"
    } else if message.starts_with("unknown variant") {
        "unknown_value"
    } else {
        "invalid_value"
    }
}

/// The field a serde error is about: its path, or the name in a `missing field` message.
fn field_name(path: &str, message: &str) -> String {
    if path.is_empty() || path == "." {
        message.split('`').nth(1).unwrap_or("body").to_owned()
    } else {
        path.to_owned()
    }
}

fn data_error(path: String, message: String) -> FieldError {
    FieldError {
        field: field_name(&path, &message),
        code: field_code(&message).to_owned(),
        // serde_json appends the position, which is noise next to the field name.
        detail: message
            .split(" at line ")
            .next()
            .unwrap_or_default()
            .to_owned(),
    }
}

impl<T: DeserializeOwned + 'static, const LIMIT: usize> FromRequest for JsonBody<T, LIMIT> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let json = is_json(req);
        let declared_too_large = declares_more_than(req, LIMIT);
        let payload = payload.take();
        Box::pin(async move {
            if !json {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "the body must be JSON, sent with Content-Type: application/json",
                ));
            }
            if declared_too_large {
                return Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    format!("the body must be at most {LIMIT} bytes"),
                ));
            }
            let bytes = read_bounded(payload, LIMIT).await?;
            let mut deserializer = serde_json::Deserializer::from_slice(&bytes);
            let malformed = |error: serde_json::Error| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "malformed_json",
                    format!("the body is not valid JSON: {error}"),
                )
            };
            let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
                let path = error.path().to_string();
                let inner = error.into_inner();
                if inner.is_data() {
                    ApiError::invalid_body(vec![data_error(path, inner.to_string())])
                } else {
                    malformed(inner)
                }
            })?;
            deserializer.end().map_err(malformed)?;
            Ok(Self(value))
        })
    }
}

/// An already parsed JSON document as the type a [`JsonBody`] would give, with the same field
/// errors.
pub fn from_json_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        ApiError::invalid_body(vec![data_error(path, error.into_inner().to_string())])
    })
}

/// Query parameters, deserialized strictly: unknown parameters and wrong types are refused
/// with the parameter's name.
#[derive(Debug)]
pub struct QueryParams<T>(pub T);

impl<T: DeserializeOwned> FromRequest for QueryParams<T> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let parsed = form_urlencoded::parse(req.query_string().as_bytes());
        let deserializer = serde_urlencoded::Deserializer::new(parsed);
        ready(
            serde_path_to_error::deserialize(deserializer)
                .map(Self)
                .map_err(|error| {
                    let path = error.path().to_string();
                    ApiError::invalid_query(vec![data_error(path, error.into_inner().to_string())])
                }),
        )
    }
}

/// The part of the payload limit actix applies before a body reaches [`JsonBody`].
pub fn payload_config() -> web::PayloadConfig {
    web::PayloadConfig::new(MAX_JSON_BODY_BYTES)
}
