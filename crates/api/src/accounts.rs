//! Signing up, in and out: access tokens, rotating refresh tokens, and claiming the reports a
//! device made before its owner had an account.

use actix_web::{HttpRequest, HttpResponse, get, http::StatusCode, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use signalons_db::{AsyncConnection, AsyncPgConnection, DatabaseErrorKind, DbError, accounts};
use signalons_domain::{AccountEmail, Actor, DeviceId, NewPassword, Role};
use utoipa::ToSchema;

use crate::{
    AppState,
    auth::{
        self, Authenticated, device_hash, hash_password, issue_refresh, random_bytes, sha256,
        verify_password,
    },
    error::{ApiError, Problem},
    extract::JsonBody,
    mail_links::{Bilingual, LinkPage, confirmation_page, done},
    rate_limit::{Identity, Limited},
    reports::check,
};

/// A new resident account.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    #[schema(max_length = 254, example = "ada@example.org")]
    pub email: String,
    /// 10 to 128 characters.
    #[schema(min_length = 10, max_length = 128)]
    pub password: String,
    /// How staff address you; never public.
    #[serde(default)]
    #[schema(max_length = 100)]
    pub display_name: Option<String>,
    /// The device id the app reported with so far: its anonymous reports become yours.
    #[serde(default)]
    pub device_id: Option<String>,
}

/// Email and password.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    #[schema(max_length = 254)]
    pub email: String,
    #[schema(max_length = 128)]
    pub password: String,
}

/// A refresh token, to rotate or to revoke.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    #[schema(max_length = 200)]
    pub refresh_token: String,
}

/// The signed-in account, as its owner sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    /// The staff member's city (its slug); absent for residents.
    pub jurisdiction: Option<String>,
    /// The codes of the departments a crew member or dispatcher works for.
    pub departments: Vec<String>,
}

/// Tokens for a session.
#[derive(Debug, Serialize, ToSchema)]
pub struct Session {
    /// Send as `Authorization: Bearer <access_token>`.
    pub access_token: String,
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds the access token lives.
    pub expires_in: u64,
    /// Exchange at `POST /api/v1/auth/refresh` for new tokens; usable once.
    pub refresh_token: String,
    pub refresh_expires_at: DateTime<Utc>,
    pub user: Me,
}

/// How many reports a claim took over.
#[derive(Debug, Serialize, ToSchema)]
pub struct Claimed {
    pub claimed: usize,
}

/// A device whose reports to claim.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimRequest {
    pub device_id: String,
}

fn invalid_credentials() -> ApiError {
    ApiError::unauthenticated("invalid_credentials", "wrong email or password")
}

/// The account `user` as its owner sees it.
pub async fn me(conn: &mut AsyncPgConnection, user: i64) -> Result<Me, ApiError> {
    let row = accounts::find(conn, user).await?.ok_or_else(|| {
        ApiError::unauthenticated("account_disabled", "this account no longer exists")
    })?;
    let jurisdiction = match row.jurisdiction_id {
        Some(id) => signalons_db::catalog::jurisdiction_slug(conn, id).await?,
        None => None,
    };
    Ok(Me {
        id: row.id,
        email: row.email,
        display_name: row.display_name,
        role: row.role.parse().map_err(|e| ApiError::internal(&e))?,
        jurisdiction,
        departments: accounts::department_codes(conn, user).await?,
    })
}

/// Opens a session for `user`: a new refresh-token family and an access token.
async fn open_session(
    state: &AppState,
    conn: &mut AsyncPgConnection,
    user: i64,
) -> Result<Session, ApiError> {
    let now = Utc::now();
    let family = random_bytes::<16>()?;
    let issued = issue_refresh(conn, &state.auth, user, &family, now).await?;
    session(state, conn, user, issued, now).await
}

async fn session(
    state: &AppState,
    conn: &mut AsyncPgConnection,
    user: i64,
    issued: auth::IssuedRefresh,
    now: DateTime<Utc>,
) -> Result<Session, ApiError> {
    Ok(Session {
        access_token: auth::access_token(&state.auth, user, now)?,
        token_type: "Bearer",
        expires_in: state.auth.access_ttl.as_secs(),
        refresh_token: issued.token,
        refresh_expires_at: issued.expires_at,
        user: me(conn, user).await?,
    })
}

/// Create a resident account and sign in. Anonymous reporting keeps working without one.
#[utoipa::path(
    tag = "auth",
    request_body = Registration,
    responses(
        (status = 201, body = Session),
        (status = 409, description = "An account already uses this email", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/register")]
pub async fn register(
    state: web::Data<AppState>,
    req: HttpRequest,
    JsonBody(body): JsonBody<Registration>,
) -> Result<HttpResponse, ApiError> {
    let mut errors = Vec::new();
    let email = check("email", AccountEmail::new(&body.email), &mut errors);
    let password = check("password", NewPassword::new(&body.password), &mut errors);
    let display_name = check(
        "display_name",
        signalons_domain::text::display_name(body.display_name.as_deref().unwrap_or("")),
        &mut errors,
    );
    let device = check(
        "device_id",
        body.device_id.as_deref().map(DeviceId::new).transpose(),
        &mut errors,
    );
    let (Some(email), Some(password), Some(display_name), Some(device)) =
        (email, password, display_name, device)
    else {
        return Err(ApiError::invalid_body(errors));
    };
    state
        .limiter
        .check(Limited::Login, &[Identity::client(&req)])?;
    let hash = hash_password(password.as_str().to_owned()).await?;
    let mut conn = state.pool.get().await?;
    let inserted = accounts::insert_user(
        &mut conn,
        accounts::NewUser {
            email: email.as_str(),
            password_hash: &hash,
            display_name: &display_name,
            role: Role::Resident.as_str(),
            jurisdiction_id: None,
            created_at: Utc::now(),
        },
        &[],
    )
    .await;
    let user = match inserted {
        Ok(user) => user,
        Err(DbError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "email_taken",
                "an account already uses this email; sign in instead",
            ));
        }
        Err(error) => return Err(error.into()),
    };
    if let Some(device) = device {
        accounts::claim_device_reports(&mut conn, user, &device_hash(device.as_str())).await?;
    }
    tracing::info!(user, "resident account created");
    let session = open_session(&state, &mut conn, user).await?;
    Ok(HttpResponse::Created().json(session))
}

/// Sign in with email and password.
#[utoipa::path(
    tag = "auth",
    request_body = Credentials,
    responses(
        (status = 200, body = Session),
        (status = 401, description = "Wrong email or password", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts from this IP or for this account", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/login")]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    JsonBody(body): JsonBody<Credentials>,
) -> Result<web::Json<Session>, ApiError> {
    if body.password.chars().count() > NewPassword::MAX_CHARS {
        return Err(invalid_credentials());
    }
    let email = AccountEmail::new(&body.email).map_err(|_| invalid_credentials())?;
    state.limiter.check(
        Limited::Login,
        &[
            Identity::client(&req),
            Identity::Email(sha256(email.as_str())),
        ],
    )?;
    let mut conn = state.pool.get().await?;
    let user = accounts::find_by_email(&mut conn, email.as_str())
        .await?
        .filter(|user| user.disabled_at.is_none());
    let matches = verify_password(
        body.password,
        user.as_ref().map(|user| user.password_hash.clone()),
    )
    .await?;
    let Some(user) = user.filter(|_| matches) else {
        tracing::info!("failed sign-in");
        return Err(invalid_credentials());
    };
    tracing::info!(user = user.id, "signed in");
    Ok(web::Json(open_session(&state, &mut conn, user.id).await?))
}

enum Rotation {
    Rotated {
        user: i64,
        issued: auth::IssuedRefresh,
    },
    Reused,
    Invalid,
}

/// Exchange a refresh token for new tokens. Each refresh token works once: presenting a used
/// one again revokes every token of its session (it was probably stolen).
#[utoipa::path(
    tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, body = Session),
        (status = 401, description = "Unknown, expired, revoked or reused refresh token", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/refresh")]
pub async fn refresh(
    state: web::Data<AppState>,
    req: HttpRequest,
    JsonBody(body): JsonBody<RefreshRequest>,
) -> Result<web::Json<Session>, ApiError> {
    state
        .limiter
        .check(Limited::Login, &[Identity::client(&req)])?;
    let token_hash = sha256(body.refresh_token.trim());
    let now = Utc::now();
    let mut conn = state.pool.get().await?;
    let settings = state.auth.clone();
    let rotation = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let Some(token) = accounts::lock_refresh_token(conn, &token_hash).await? else {
                return Ok(Rotation::Invalid);
            };
            if token.revoked_at.is_some() || token.expires_at <= now {
                return Ok(Rotation::Invalid);
            }
            if token.used_at.is_some() {
                accounts::revoke_family(conn, &token.family, now).await?;
                return Ok(Rotation::Reused);
            }
            if auth::load_actor(conn, token.user_id).await?.is_none() {
                return Ok(Rotation::Invalid);
            }
            accounts::mark_refresh_token_used(conn, token.id, now).await?;
            let issued = issue_refresh(conn, &settings, token.user_id, &token.family, now).await?;
            Ok(Rotation::Rotated {
                user: token.user_id,
                issued,
            })
        })
        .await?;
    match rotation {
        Rotation::Rotated { user, issued } => Ok(web::Json(
            session(&state, &mut conn, user, issued, now).await?,
        )),
        Rotation::Reused => {
            tracing::warn!("a used refresh token was presented again; its session is revoked");
            Err(ApiError::unauthenticated(
                "refresh_token_reused",
                "this refresh token was already used; the session is revoked, sign in again",
            ))
        }
        Rotation::Invalid => Err(ApiError::unauthenticated(
            "invalid_refresh_token",
            "unknown, expired or revoked refresh token; sign in again",
        )),
    }
}

/// Sign out: the refresh token and every token of its session stop working.
#[utoipa::path(
    tag = "auth",
    request_body = RefreshRequest,
    responses((status = 204, description = "Signed out (also when the token was unknown)"))
)]
#[post("/auth/logout")]
pub async fn logout(
    state: web::Data<AppState>,
    JsonBody(body): JsonBody<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.pool.get().await?;
    let token_hash = sha256(body.refresh_token.trim());
    if let Some(token) = accounts::lock_refresh_token(&mut conn, &token_hash).await? {
        accounts::revoke_family(&mut conn, &token.family, Utc::now()).await?;
    }
    Ok(HttpResponse::NoContent().finish())
}

/// The signed-in account.
#[utoipa::path(
    tag = "auth",
    responses(
        (status = 200, body = Me),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/me")]
pub async fn get_me(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<web::Json<Me>, ApiError> {
    let mut conn = state.pool.get().await?;
    Ok(web::Json(me(&mut conn, actor.user_id).await?))
}

/// Make the anonymous reports sent from a device yours (the app sends its device id).
#[utoipa::path(
    tag = "auth",
    request_body = ClaimRequest,
    responses(
        (status = 200, body = Claimed),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/me/claims")]
pub async fn claim_reports(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    JsonBody(body): JsonBody<ClaimRequest>,
) -> Result<web::Json<Claimed>, ApiError> {
    let mut errors = Vec::new();
    let Some(device) = check("device_id", DeviceId::new(&body.device_id), &mut errors) else {
        return Err(ApiError::invalid_body(errors));
    };
    let mut conn = state.pool.get().await?;
    let claimed =
        accounts::claim_device_reports(&mut conn, actor.user_id, &device_hash(device.as_str()))
            .await?;
    Ok(web::Json(Claimed { claimed }))
}

/// Whether `actor` is staff; `403` otherwise.
pub fn require_staff(actor: &Actor) -> Result<i64, ApiError> {
    match actor.jurisdiction_id {
        Some(jurisdiction) if actor.role.is_staff() => Ok(jurisdiction),
        _ => Err(ApiError::forbidden(
            "staff_only",
            "this needs a staff account",
        )),
    }
}

/// The outcome of an unsubscribe link.
#[derive(Debug, Serialize, ToSchema)]
pub struct Unsubscribed {
    pub unsubscribed: bool,
}

/// The token of an unsubscribe link.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UnsubscribeQuery {
    pub token: String,
}

const UNSUBSCRIBE_PAGE: LinkPage = LinkPage {
    title: Bilingual {
        en: "Stop these emails",
        fr: "Ne plus recevoir ces messages",
    },
    question: Bilingual {
        en: "This address will no longer receive news of reports or area alerts.",
        fr: "Cette adresse ne recevra plus de nouvelles des signalements ni d'alertes de secteur.",
    },
    button: Bilingual {
        en: "Unsubscribe",
        fr: "Me désabonner",
    },
    done: Bilingual {
        en: "Done: no more emails will be sent to this address.",
        fr: "C'est fait : plus aucun message ne sera envoyé à cette adresse.",
    },
};

/// The address an unsubscribe token was made for; `404` when its signature does not hold.
fn unsubscribing(state: &AppState, token: &str) -> Result<String, ApiError> {
    signalons_domain::delivery::verify_unsubscribe_token(&state.auth.unsubscribe_key, token)
        .ok_or_else(|| {
            ApiError::not_found(
                "invalid_unsubscribe_token",
                "this unsubscribe link is not valid",
            )
        })
}

/// The unsubscribe link of notification emails: a page with a button, changing nothing
/// (mail scanners open links; people press the button).
#[utoipa::path(
    tag = "auth",
    params(UnsubscribeQuery),
    responses(
        (status = 200, description = "A page asking to confirm", content_type = "text/html", body = String),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/unsubscribe")]
pub async fn unsubscribe_page(
    state: web::Data<AppState>,
    crate::extract::QueryParams(query): crate::extract::QueryParams<UnsubscribeQuery>,
) -> Result<HttpResponse, ApiError> {
    unsubscribing(&state, &query.token)?;
    Ok(confirmation_page(&UNSUBSCRIBE_PAGE, &query.token))
}

/// Unsubscribe: no more news to this address, messages already queued included. RFC 8058
/// one-click (`List-Unsubscribe-Post`) as mail clients send it, or the page's button (which
/// gets a page back).
#[utoipa::path(
    tag = "auth",
    params(UnsubscribeQuery),
    responses(
        (status = 200, body = Unsubscribed),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/unsubscribe")]
pub async fn unsubscribe_one_click(
    req: HttpRequest,
    state: web::Data<AppState>,
    crate::extract::QueryParams(query): crate::extract::QueryParams<UnsubscribeQuery>,
) -> Result<HttpResponse, ApiError> {
    let email = unsubscribing(&state, &query.token)?;
    let mut conn = state.pool.get().await?;
    signalons_db::outbox::opt_out(&mut conn, &sha256(&email.to_lowercase())).await?;
    tracing::info!("an address unsubscribed from notifications");
    Ok(done(
        &req,
        &UNSUBSCRIBE_PAGE,
        &Unsubscribed { unsubscribed: true },
    ))
}
