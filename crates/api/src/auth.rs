//! Identity: argon2 password hashes, short-lived JWT access tokens (HS256 only), rotating
//! refresh tokens stored hashed, and the extractors that turn a bearer token into an [`Actor`].

use std::{io::Read, sync::Arc, time::Duration};

use actix_web::{FromRequest, HttpRequest, dev::Payload, http::header, web};
use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier, password_hash::SaltString};
use chrono::{DateTime, Utc};
use futures_util::future::LocalBoxFuture;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use signalons_db::{AsyncPgConnection, DbError, accounts};
use signalons_domain::{Actor, Role};

use crate::{AppState, error::ApiError};

const ISSUER: &str = "signalons";
const AUDIENCE: &str = "signalons-api";

/// How tokens are made and checked. The secret never appears in `Debug` output.
#[derive(Clone)]
pub struct AuthSettings {
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// Lifetime of an access token.
    pub access_ttl: Duration,
    /// Lifetime of a refresh token (each use issues a new one).
    pub refresh_ttl: Duration,
    /// Signs the unsubscribe links of notification emails.
    pub unsubscribe_key: Vec<u8>,
}

impl std::fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthSettings")
            .field("secret", &"<secret>")
            .field("access_ttl", &self.access_ttl)
            .field("refresh_ttl", &self.refresh_ttl)
            .finish()
    }
}

/// Why auth settings were refused.
#[derive(Debug, thiserror::Error)]
#[error("the JWT secret must be at least 32 bytes (SIGNALONS_JWT_SECRET)")]
pub struct WeakSecret;

impl AuthSettings {
    /// Settings signing with `secret` (HS256; at least 32 bytes).
    pub fn new(
        secret: &[u8],
        access_ttl: Duration,
        refresh_ttl: Duration,
    ) -> Result<Self, WeakSecret> {
        if secret.len() < 32 {
            return Err(WeakSecret);
        }
        Ok(Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            access_ttl,
            refresh_ttl,
            unsubscribe_key: signalons_domain::delivery::unsubscribe_key(secret),
        })
    }
}

/// The claims of an access token. Roles and departments are read from the database on each
/// request, so a demotion or a disabled account takes effect at once.
#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    iss: String,
    aud: String,
    iat: i64,
    exp: i64,
}

/// Makes an access token for `user`, valid from `now`.
pub fn access_token(
    settings: &AuthSettings,
    user: i64,
    now: DateTime<Utc>,
) -> Result<String, ApiError> {
    let claims = Claims {
        sub: user.to_string(),
        iss: ISSUER.to_owned(),
        aud: AUDIENCE.to_owned(),
        iat: now.timestamp(),
        exp: now.timestamp() + settings.access_ttl.as_secs() as i64,
    };
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &settings.encoding)
        .map_err(|error| ApiError::internal(&error))
}

fn validation() -> Validation {
    // One algorithm: a token signed any other way (`none`, RS256 with the secret as a public
    // key...) is refused before its signature is even considered.
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.leeway = 5;
    validation
}

/// The user a valid access token names.
fn verify(settings: &AuthSettings, token: &str) -> Result<i64, ApiError> {
    let data = jsonwebtoken::decode::<Claims>(token, &settings.decoding, &validation()).map_err(
        |error| match error.kind() {
            ErrorKind::ExpiredSignature => ApiError::unauthenticated(
                "token_expired",
                "the access token has expired; refresh it",
            ),
            _ => ApiError::unauthenticated("invalid_token", "the access token is not valid"),
        },
    )?;
    data.claims
        .sub
        .parse()
        .map_err(|_| ApiError::unauthenticated("invalid_token", "the access token is not valid"))
}

/// `N` bytes from the operating system's generator.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], ApiError> {
    let mut bytes = [0u8; N];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut random| random.read_exact(&mut bytes))
        .map_err(|error| ApiError::internal(&error))?;
    Ok(bytes)
}

/// Lower-case hexadecimal.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The SHA-256 of `text`.
pub fn sha256(text: &str) -> Vec<u8> {
    Sha256::digest(text.as_bytes()).to_vec()
}

/// The hash a device id is stored as (reports and supports from the same phone).
pub fn device_hash(device_id: &str) -> Vec<u8> {
    sha256(&format!("device:{device_id}"))
}

/// Hashes `password` with argon2id (off the request thread: it takes tens of milliseconds).
pub async fn hash_password(password: String) -> Result<String, ApiError> {
    let salt = SaltString::encode_b64(&random_bytes::<16>()?)
        .map_err(|error| ApiError::internal(&error))?;
    web::block(move || {
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
    })
    .await
    .map_err(|error| ApiError::internal(&error))?
    .map_err(|error| ApiError::internal(&error))
}

/// A hash of a password nobody has, verified when the email is unknown so that a login takes
/// as long whether the account exists or not.
const DECOY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2lnbmFsb25zZGVjb3k$3hzxZs1CRLG1HZ7cUNgPIw6+zXUYcvrrAjrmjB2lpxs";

/// Whether `password` matches `stored` (or the decoy when there is no account).
pub async fn verify_password(password: String, stored: Option<String>) -> Result<bool, ApiError> {
    let exists = stored.is_some();
    let stored = stored.unwrap_or_else(|| DECOY_HASH.to_owned());
    let matches = web::block(move || {
        PasswordHash::new(&stored)
            .map(|hash| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &hash)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .map_err(|error| ApiError::internal(&error))?;
    Ok(exists && matches)
}

/// A refresh token just issued: the secret for the client, its family for rotation.
#[derive(Debug)]
pub struct IssuedRefresh {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// Stores and returns a new refresh token of `family` for `user`.
pub async fn issue_refresh(
    conn: &mut AsyncPgConnection,
    settings: &AuthSettings,
    user: i64,
    family: &[u8],
    now: DateTime<Utc>,
) -> Result<IssuedRefresh, ApiError> {
    let token = format!("rt_{}", hex(&random_bytes::<32>()?));
    let expires_at = now
        + chrono::Duration::from_std(settings.refresh_ttl)
            .map_err(|error| ApiError::internal(&error))?;
    accounts::insert_refresh_token(conn, user, family, &sha256(&token), now, expires_at).await?;
    Ok(IssuedRefresh { token, expires_at })
}

/// The bearer token of a request, if it carries one.
fn bearer(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let text = value.to_str().map_err(|_| {
        ApiError::unauthenticated("invalid_token", "unreadable Authorization header")
    })?;
    match text.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(Some(token.trim().to_owned()))
        }
        _ => Err(ApiError::unauthenticated(
            "invalid_token",
            "the Authorization header must be `Bearer <access token>`",
        )),
    }
}

/// The actor behind a verified token, as the database has them now.
pub async fn load_actor(
    conn: &mut AsyncPgConnection,
    user_id: i64,
) -> Result<Option<Actor>, DbError> {
    let Some(user) = accounts::find(conn, user_id).await? else {
        return Ok(None);
    };
    if user.disabled_at.is_some() {
        return Ok(None);
    }
    let role: Role = user
        .role
        .parse()
        .map_err(|error| DbError::DeserializationError(Box::new(error)))?;
    let department_ids = if role.is_staff() {
        accounts::department_ids(conn, user.id).await?
    } else {
        Vec::new()
    };
    Ok(Some(Actor {
        user_id: user.id,
        role,
        jurisdiction_id: user.jurisdiction_id,
        department_ids,
    }))
}

async fn actor_from_request(req: HttpRequest) -> Result<Option<Actor>, ApiError> {
    let Some(token) = bearer(&req)? else {
        return Ok(None);
    };
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::internal(&"application state missing"))?;
    let user = verify(&state.auth, &token)?;
    let mut conn = state.pool.get().await?;
    match load_actor(&mut conn, user).await? {
        Some(actor) => {
            tracing::Span::current().record("user_id", actor.user_id);
            Ok(Some(actor))
        }
        None => Err(ApiError::unauthenticated(
            "account_disabled",
            "this account no longer exists or has been disabled",
        )),
    }
}

/// A signed-in caller: `401` without a valid bearer token.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Actor);

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            actor_from_request(req).await?.map(Self).ok_or_else(|| {
                ApiError::unauthenticated(
                    "unauthenticated",
                    "this needs `Authorization: Bearer <access token>`",
                )
            })
        })
    }
}

/// A caller who may or may not be signed in; a token that is present must be valid.
#[derive(Debug, Clone)]
pub struct MaybeAuthenticated(pub Option<Actor>);

impl FromRequest for MaybeAuthenticated {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { actor_from_request(req).await.map(Self) })
    }
}

/// Shared, cheap-to-clone auth settings.
pub type SharedAuth = Arc<AuthSettings>;

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(ttl: u64) -> AuthSettings {
        AuthSettings::new(
            &[7u8; 32],
            Duration::from_secs(ttl),
            Duration::from_secs(60),
        )
        .unwrap()
    }

    #[test]
    fn tokens_round_trip_and_expire() {
        let settings = settings(60);
        let now = Utc::now();
        let token = access_token(&settings, 42, now).unwrap();
        assert_eq!(verify(&settings, &token).unwrap(), 42);
        let old = access_token(&settings, 42, now - chrono::Duration::hours(1)).unwrap();
        assert_eq!(verify(&settings, &old).unwrap_err().code(), "token_expired");
    }

    #[test]
    fn another_secret_or_algorithm_is_refused() {
        let now = Utc::now();
        let other = AuthSettings::new(&[8u8; 32], Duration::from_secs(60), Duration::from_secs(60))
            .unwrap();
        let forged = access_token(&other, 42, now).unwrap();
        assert_eq!(
            verify(&settings(60), &forged).unwrap_err().code(),
            "invalid_token"
        );
        // alg=none: a header and claims with an empty signature
        let claims = format!(
            r#"{{"sub":"42","iss":"{ISSUER}","aud":"{AUDIENCE}","iat":0,"exp":{}}}"#,
            now.timestamp() + 60
        );
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let unsigned = format!(
            "{}.{}.",
            b64.encode(r#"{"alg":"none","typ":"JWT"}"#),
            b64.encode(claims)
        );
        assert_eq!(
            verify(&settings(60), &unsigned).unwrap_err().code(),
            "invalid_token"
        );
        assert!(AuthSettings::new(b"short", Duration::ZERO, Duration::ZERO).is_err());
    }

    #[tokio::test]
    async fn the_decoy_hash_is_a_real_argon2_hash() {
        assert!(PasswordHash::new(DECOY_HASH).is_ok());
        assert!(
            !verify_password("anything at all".into(), None)
                .await
                .unwrap()
        );
    }
}
