//! Area alerts: a resident asks to hear of new problems within a radius or a service area, at
//! once or in a daily digest. Nothing is sent before the address confirms (double opt-in), and
//! every mail carries links to cancel the alert or to unsubscribe from everything.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use signalons_db::alerts::{self, AlertPlace, NewAlert};
use signalons_domain::{
    CategoryCode, ContactEmail, GeoPoint, Latitude, Longitude, Violation,
    delivery::verify_signed_token,
};
use utoipa::{IntoParams, ToSchema};

use crate::{
    AppState,
    error::{ApiError, FieldError, Problem},
    extract::{JsonBody, QueryParams},
    mail_links::{Bilingual, LinkPage, confirmation_page, done},
    rate_limit::{Identity, Limited},
    reports::check,
};

/// How often an alert writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Frequency {
    /// A mail per new problem.
    Immediate,
    /// One mail a day listing the new problems, when there are any.
    Daily,
}

/// An alert to set up: a radius around a point, or a service area of a city.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAreaAlert {
    /// Where to write; private, and confirmed before anything is sent.
    #[schema(max_length = 254)]
    pub email: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    /// With `latitude` and `longitude`: 50 to 5000 metres.
    #[schema(minimum = 50, maximum = 5000)]
    pub radius_m: Option<i32>,
    /// Instead of a radius: a service area code of `jurisdiction`.
    pub area: Option<String>,
    /// The city of `area`, by slug.
    pub jurisdiction: Option<String>,
    /// Category codes to watch (at most 50); empty or absent for every category.
    #[serde(default)]
    pub categories: Vec<String>,
    /// Default `immediate`.
    pub frequency: Option<Frequency>,
}

/// An alert waiting for its confirmation.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertCreated {
    pub id: i64,
    /// A mail with the confirmation link was queued.
    pub confirmation_sent: bool,
}

/// A signed link's token.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AlertToken {
    pub token: String,
}

/// What a link did.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertState {
    pub id: i64,
    pub active: bool,
}

/// Watch an area for new problems. Answers `202`: the alert works once the link mailed to the
/// address is opened.
#[utoipa::path(
    tag = "alerts",
    request_body = NewAreaAlert,
    responses(
        (status = 202, body = AlertCreated),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/alerts")]
pub async fn create_alert(
    state: web::Data<AppState>,
    req: HttpRequest,
    JsonBody(body): JsonBody<NewAreaAlert>,
) -> Result<HttpResponse, ApiError> {
    let mut errors = Vec::new();
    let email = check("email", ContactEmail::new(&body.email), &mut errors);
    let categories: Vec<String> = body
        .categories
        .iter()
        .filter_map(|code| check("categories", CategoryCode::new(code), &mut errors))
        .map(|code| code.as_str().to_owned())
        .collect();
    if categories.len() > 50 {
        errors.push(FieldError::new(
            "categories",
            Violation::new("too_many", "at most 50 categories"),
        ));
    }
    let mut conn = state.pool.get().await?;
    let place = match (body.latitude, body.longitude, body.radius_m, &body.area) {
        (Some(lat), Some(long), Some(radius), None) => {
            let lat = check("latitude", Latitude::new(lat), &mut errors);
            let long = check("longitude", Longitude::new(long), &mut errors);
            if !(50..=5000).contains(&radius) {
                errors.push(FieldError::new(
                    "radius_m",
                    Violation::new("out_of_range", "50 to 5000 metres"),
                ));
            }
            match lat.zip(long) {
                Some((lat, long)) => {
                    let center = signalons_db::wgs84_point(GeoPoint::new(lat, long));
                    match signalons_db::catalog::place(&mut conn, center).await? {
                        Some(placement) => Some((
                            placement.jurisdiction_id,
                            AlertPlace::Radius {
                                center,
                                metres: radius,
                            },
                        )),
                        None => {
                            errors.push(FieldError::new(
                                "latitude",
                                Violation::new(
                                    "outside_jurisdiction",
                                    "no city served here covers this point",
                                ),
                            ));
                            None
                        }
                    }
                }
                None => None,
            }
        }
        (None, None, None, Some(area)) => {
            let slug = body.jurisdiction.as_deref().unwrap_or_default();
            let jurisdiction = signalons_db::catalog::jurisdiction_id(&mut conn, slug).await?;
            let area_id = match jurisdiction {
                Some(j) => signalons_db::catalog::service_area_id(&mut conn, j, area).await?,
                None => None,
            };
            match jurisdiction.zip(area_id) {
                Some((j, area)) => Some((j, AlertPlace::ServiceArea(area))),
                None => {
                    errors.push(FieldError::new(
                        "area",
                        Violation::new("unknown_area", "no such service area in that jurisdiction"),
                    ));
                    None
                }
            }
        }
        _ => {
            errors.push(FieldError::new(
                "area",
                Violation::new(
                    "place_required",
                    "give latitude, longitude and radius_m, or area and jurisdiction",
                ),
            ));
            None
        }
    };
    let (Some(email), Some((jurisdiction, place))) = (email, place) else {
        return Err(ApiError::invalid_body(errors));
    };
    if !errors.is_empty() {
        return Err(ApiError::invalid_body(errors));
    }
    // Each alert sends a mail to an address nobody has proven yet: bounded like supports.
    state
        .limiter
        .check(Limited::Support, &[Identity::client(&req)])?;
    let frequency = match body.frequency.unwrap_or(Frequency::Immediate) {
        Frequency::Immediate => "immediate",
        Frequency::Daily => "daily",
    };
    let id = alerts::subscribe(
        &mut conn,
        NewAlert {
            jurisdiction_id: jurisdiction,
            email: email.as_str(),
            place,
            category_codes: categories,
            frequency,
            created_at: Utc::now(),
        },
    )
    .await?;
    Ok(HttpResponse::Accepted().json(AlertCreated {
        id,
        confirmation_sent: true,
    }))
}

fn alert_from_token(state: &AppState, purpose: &str, token: &str) -> Result<i64, ApiError> {
    verify_signed_token(&state.auth.unsubscribe_key, purpose, token)
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| ApiError::not_found("invalid_alert_token", "this link is not valid"))
}

const CONFIRM_PAGE: LinkPage = LinkPage {
    title: Bilingual {
        en: "Confirm your alert",
        fr: "Confirmer votre alerte",
    },
    question: Bilingual {
        en: "New problems reported in the area you chose will be sent to this address.",
        fr: "Les nouveaux problèmes signalés dans le secteur choisi seront envoyés à cette adresse.",
    },
    button: Bilingual {
        en: "Confirm",
        fr: "Confirmer",
    },
    done: Bilingual {
        en: "Your alert is on.",
        fr: "Votre alerte est active.",
    },
};

const CANCEL_PAGE: LinkPage = LinkPage {
    title: Bilingual {
        en: "Stop this alert",
        fr: "Arrêter cette alerte",
    },
    question: Bilingual {
        en: "No more mails will be sent for this area.",
        fr: "Plus aucun message ne sera envoyé pour ce secteur.",
    },
    button: Bilingual {
        en: "Stop the alert",
        fr: "Arrêter l'alerte",
    },
    done: Bilingual {
        en: "The alert is stopped.",
        fr: "L'alerte est arrêtée.",
    },
};

/// The link in the confirmation mail: a page with a button, changing nothing (mail scanners
/// open links; people press the button).
#[utoipa::path(
    tag = "alerts",
    params(AlertToken),
    responses(
        (status = 200, description = "A page asking to confirm", content_type = "text/html", body = String),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/alerts/confirm")]
pub async fn confirm_alert_page(
    state: web::Data<AppState>,
    QueryParams(query): QueryParams<AlertToken>,
) -> Result<HttpResponse, ApiError> {
    alert_from_token(&state, "confirm-alert", &query.token)?;
    Ok(confirmation_page(&CONFIRM_PAGE, &query.token))
}

/// Confirm an alert (the button of the confirmation page): the alert starts working.
#[utoipa::path(
    tag = "alerts",
    params(AlertToken),
    responses(
        (status = 200, body = AlertState),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/alerts/confirm")]
pub async fn confirm_alert(
    req: HttpRequest,
    state: web::Data<AppState>,
    QueryParams(query): QueryParams<AlertToken>,
) -> Result<HttpResponse, ApiError> {
    let id = alert_from_token(&state, "confirm-alert", &query.token)?;
    let mut conn = state.pool.get().await?;
    let active = alerts::confirm(&mut conn, id, Utc::now()).await?;
    Ok(done(&req, &CONFIRM_PAGE, &AlertState { id, active }))
}

/// The cancel link in every alert mail: a page with a button, changing nothing.
#[utoipa::path(
    tag = "alerts",
    params(AlertToken),
    responses(
        (status = 200, description = "A page asking to confirm", content_type = "text/html", body = String),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/alerts/cancel")]
pub async fn cancel_alert_page(
    state: web::Data<AppState>,
    QueryParams(query): QueryParams<AlertToken>,
) -> Result<HttpResponse, ApiError> {
    alert_from_token(&state, "cancel-alert", &query.token)?;
    Ok(confirmation_page(&CANCEL_PAGE, &query.token))
}

/// Cancel an alert (the button of the cancel page): the alert stops, mails already queued
/// included.
#[utoipa::path(
    tag = "alerts",
    params(AlertToken),
    responses(
        (status = 200, body = AlertState),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/alerts/cancel")]
pub async fn cancel_alert(
    req: HttpRequest,
    state: web::Data<AppState>,
    QueryParams(query): QueryParams<AlertToken>,
) -> Result<HttpResponse, ApiError> {
    let id = alert_from_token(&state, "cancel-alert", &query.token)?;
    let mut conn = state.pool.get().await?;
    alerts::cancel(&mut conn, id, Utc::now()).await?;
    Ok(done(&req, &CANCEL_PAGE, &AlertState { id, active: false }))
}
