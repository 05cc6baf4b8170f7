//! Extractors that turn bad requests into problems with precise codes.

use actix_web::{
    FromRequest, HttpRequest,
    dev::Payload,
    error::PayloadError,
    http::{StatusCode, header},
    web,
};
use futures_util::future::{LocalBoxFuture, Ready, ready};
use serde::de::DeserializeOwned;

use crate::error::{ApiError, FieldError};

/// The most a JSON request body may weigh.
pub const MAX_JSON_BODY_BYTES: usize = 64 * 1024;

/// A JSON body: `application/json` (or `+json`) only, bounded, and deserialized with the path of
/// the first offending field. Unknown fields are refused by the target types.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

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

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let json = is_json(req);
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            if !json {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "the body must be JSON, sent with Content-Type: application/json",
                ));
            }
            let bytes = body
                .await
                .map_err(|error| match error.as_error::<PayloadError>() {
                    Some(PayloadError::Overflow) => ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "payload_too_large",
                        format!("the body must be at most {MAX_JSON_BODY_BYTES} bytes"),
                    ),
                    _ => ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "unreadable_body",
                        error.to_string(),
                    ),
                })?;
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
