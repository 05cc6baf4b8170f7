//! Photos of reports: uploaded with a report or after it, by crews with their work, served to
//! the public without metadata, hidden by staff when they show what they should not.
use actix_web::{
    HttpRequest, HttpResponse, get,
    http::{StatusCode, header},
    patch, post, web,
};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use signalons_db::{
    AsyncConnection, AsyncPgConnection,
    accounts::{self, NewAuditEntry},
    jobs as job_queries,
    media::{self as media_queries, Attached, KIND_REPORT, KIND_RESOLUTION, Media, NewMedia},
};
use signalons_domain::{Actor, DeviceId, Explanation, IdempotencyKey, access::JobAction};
use signalons_media::{
    PhotoLimits, PhotoStore, ProcessedPhoto, Refusal, Rendition, is_storage_key, new_storage_key,
    photo::CONTENT_TYPE, public_path,
};
use tokio::sync::Semaphore;
use utoipa::ToSchema;

use crate::{
    AppState,
    auth::{Authenticated, MaybeAuthenticated, device_hash},
    error::{ApiError, FieldError, Problem},
    extract::JsonBody,
    jobs::{denied, job_not_found, scope as job_scope},
    rate_limit::{Identity, Limited},
    reports::check,
};

/// What the HTTP layer needs to take photos.
#[derive(Debug)]
pub struct PhotoService {
    pub store: PhotoStore,
    pub limits: PhotoLimits,
    /// The most photos of each kind (the residents', the crews') one report may have.
    pub max_per_report: usize,
    /// Decoding a large photo takes a core and up to a few hundred megabytes: at most one per
    /// core at a time, the others wait.
    decoding: Semaphore,
}

impl PhotoService {
    pub fn new(store: PhotoStore, limits: PhotoLimits, max_per_report: usize) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        Self {
            store,
            limits,
            max_per_report,
            decoding: Semaphore::new(cores),
        }
    }
}

/// A photo as anyone may see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Photo {
    pub id: i64,
    /// The photo (JPEG, at most 2048 pixels on its long side, without metadata).
    #[schema(example = "/api/v1/media/files/3f0c9a6d2b1e4f5a8c7d6e5f4a3b2c1d.jpg")]
    pub url: String,
    /// Its thumbnail (at most 320 pixels on its long side).
    pub thumbnail_url: String,
    pub width: i32,
    pub height: i32,
    /// `report`: sent by a resident; `resolution`: the crew's photo of the work.
    #[schema(example = "report")]
    pub kind: String,
    pub created_at: DateTime<Utc>,
}

/// A photo as staff see it: also the hidden ones.
#[derive(Debug, Serialize, ToSchema)]
pub struct StaffPhoto {
    #[serde(flatten)]
    pub photo: Photo,
    pub report_id: i64,
    /// When staff hid it from the public; hidden photos are served to staff only.
    pub hidden_at: Option<DateTime<Utc>>,
}

impl From<Media> for Photo {
    fn from(row: Media) -> Self {
        Self {
            id: row.id,
            url: public_path(&row.storage_key, Rendition::Photo),
            thumbnail_url: public_path(&row.storage_key, Rendition::Thumbnail),
            width: row.width,
            height: row.height,
            kind: row.kind,
            created_at: row.created_at,
        }
    }
}

impl From<Media> for StaffPhoto {
    fn from(row: Media) -> Self {
        Self {
            report_id: row.report_id,
            hidden_at: row.hidden_at,
            photo: row.into(),
        }
    }
}

fn refused(refusal: &Refusal) -> ApiError {
    let status = match refusal {
        Refusal::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        Refusal::UnsupportedType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        Refusal::Empty | Refusal::TooManyPixels { .. } | Refusal::Corrupt => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
    };
    ApiError::new(status, refusal.code(), refusal.to_string())
}

fn limit_reached(max: usize) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "photo_limit_reached",
        format!("a report keeps at most {max} photos of each kind"),
    )
}

fn store_failed(error: &signalons_media::StoreError) -> ApiError {
    tracing::error!(%error, "the photo store failed");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "photo_store_unavailable",
        "photos cannot be stored right now; retry later",
    )
}

/// The most a text part of a multipart form may weigh.
const MAX_TEXT_PART_BYTES: usize = crate::extract::MAX_JSON_BODY_BYTES;
/// What a multipart body may hold besides its parts' contents: boundaries, part headers.
const MULTIPART_FRAMING_BYTES: usize = 64 * 1024;

impl PhotoService {
    /// The most a multipart body with the text parts `texts` may weigh: every photo the
    /// report may still take at full size, each text part at its limit, and the framing.
    pub fn max_form_bytes(&self, texts: &[&str]) -> usize {
        self.max_per_report
            .saturating_mul(self.limits.max_bytes)
            .saturating_add(texts.len().saturating_mul(MAX_TEXT_PART_BYTES))
            .saturating_add(MULTIPART_FRAMING_BYTES)
    }
}

/// A `multipart/form-data` body: its text parts by name and its `photo` parts in order.
#[derive(Debug, Default)]
pub struct PhotoForm {
    pub texts: Vec<(String, Bytes)>,
    pub photos: Vec<Bytes>,
}

impl PhotoForm {
    /// A digest of the photos as sent, to tell an honest retry from a reused key.
    pub fn fingerprint(&self) -> Vec<u8> {
        let mut digest = Sha256::new();
        for photo in &self.photos {
            digest.update(Sha256::digest(photo));
        }
        digest.finalize().to_vec()
    }

    /// The text part `name`, as UTF-8.
    pub fn text(&self, name: &str) -> Result<Option<&str>, ApiError> {
        self.texts
            .iter()
            .find(|(part, _)| part == name)
            .map(|(_, bytes)| {
                std::str::from_utf8(bytes).map_err(|_| {
                    ApiError::invalid_body(vec![FieldError {
                        field: name.to_owned(),
                        code: "invalid_value".to_owned(),
                        detail: "must be UTF-8 text".to_owned(),
                    }])
                })
            })
            .transpose()
    }
}

/// Whether the request's body is `multipart/form-data`.
pub fn is_multipart(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("multipart/form-data"))
}

fn malformed(detail: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "malformed_multipart", detail)
}

fn form_too_large(max: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("a photo upload must be at most {max} bytes in all"),
    )
}

/// Reads a multipart form with `photo` parts (at most the per-report limit, each within the
/// size limit) and the text parts named in `texts`, each at most once; any other part is
/// refused, and so is a body heavier than [`PhotoService::max_form_bytes`] (whatever it
/// holds: preamble, epilogue, framing), before it is read when its length is declared.
pub async fn read_form(
    req: &HttpRequest,
    payload: web::Payload,
    service: &PhotoService,
    texts: &[&str],
) -> Result<PhotoForm, ApiError> {
    if !is_multipart(req) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "the body must be multipart/form-data with `photo` parts",
        ));
    }
    let max = service.max_form_bytes(texts);
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.parse::<u64>().ok());
    if declared.is_some_and(|length| length > max as u64) {
        return Err(form_too_large(max));
    }
    let read = std::rc::Rc::new(std::cell::Cell::new(0usize));
    let counted = read.clone();
    let capped = payload.map(move |chunk| {
        let chunk = chunk?;
        counted.set(counted.get().saturating_add(chunk.len()));
        if counted.get() > max {
            Err(actix_web::error::PayloadError::Overflow)
        } else {
            Ok(chunk)
        }
    });
    let over = || read.get() > max;
    let mut multipart = actix_multipart::Multipart::new(req.headers(), capped);
    let mut form = PhotoForm::default();
    while let Some(part) = multipart.next().await {
        let mut part = part.map_err(|error| {
            if over() {
                form_too_large(max)
            } else {
                malformed(error.to_string())
            }
        })?;
        let name = part.name().unwrap_or_default().to_owned();
        let limit = if name == "photo" {
            if form.photos.len() == service.max_per_report {
                return Err(limit_reached(service.max_per_report));
            }
            service.limits.max_bytes
        } else if texts.contains(&name.as_str()) {
            if form.texts.iter().any(|(seen, _)| *seen == name) {
                return Err(ApiError::invalid_body(vec![FieldError {
                    field: name.clone(),
                    code: "repeated_field".to_owned(),
                    detail: format!("the part `{name}` may be sent once"),
                }]));
            }
            MAX_TEXT_PART_BYTES
        } else {
            return Err(ApiError::invalid_body(vec![FieldError {
                field: name.clone(),
                code: "unknown_field".to_owned(),
                detail: format!("unknown part `{name}`; expected `photo` or one of {texts:?}"),
            }]));
        };
        let mut bytes = web::BytesMut::new();
        while let Some(chunk) = part.next().await {
            let chunk = chunk.map_err(|error| {
                if over() {
                    form_too_large(max)
                } else {
                    malformed(error.to_string())
                }
            })?;
            if bytes.len() + chunk.len() > limit {
                return Err(if name == "photo" {
                    refused(&Refusal::TooLarge { max: limit })
                } else {
                    ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "payload_too_large",
                        format!("the part `{name}` must be at most {limit} bytes"),
                    )
                });
            }
            bytes.extend_from_slice(&chunk);
        }
        if name == "photo" {
            form.photos.push(bytes.freeze());
        } else {
            form.texts.push((name, bytes.freeze()));
        }
    }
    Ok(form)
}

/// Checks and re-encodes every photo, all or none, on the blocking pool.
pub async fn process_all(
    service: &PhotoService,
    photos: Vec<Bytes>,
) -> Result<Vec<ProcessedPhoto>, ApiError> {
    let mut processed = Vec::with_capacity(photos.len());
    for bytes in photos {
        let _permit = service
            .decoding
            .acquire()
            .await
            .map_err(|e| ApiError::internal(&e))?;
        let limits = service.limits;
        let photo = web::block(move || signalons_media::process(&bytes, &limits))
            .await
            .map_err(|e| ApiError::internal(&e))?
            .map_err(|refusal| refused(&refusal))?;
        processed.push(photo);
    }
    Ok(processed)
}

/// Photos written to the store, not yet recorded: [`StoredPhotos::discard`] them unless the
/// transaction that records them commits.
#[derive(Debug)]
pub struct StoredPhotos {
    photos: Vec<(String, ProcessedPhoto)>,
}

impl StoredPhotos {
    /// Writes each photo and its thumbnail under a new key.
    pub async fn write(
        store: &PhotoStore,
        processed: Vec<ProcessedPhoto>,
    ) -> Result<Self, ApiError> {
        let mut stored = Self { photos: Vec::new() };
        for photo in processed {
            let key = new_storage_key();
            if let Err(error) = store
                .put(&key, photo.jpeg.clone(), photo.thumbnail.clone())
                .await
            {
                stored.photos.push((key, photo));
                stored.discard(store).await;
                return Err(store_failed(&error));
            }
            stored.photos.push((key, photo));
        }
        Ok(stored)
    }

    pub fn is_empty(&self) -> bool {
        self.photos.is_empty()
    }

    /// The rows that record these photos as `kind` photos of `report_id`, as sent by an
    /// upload with `upload` (its key and fingerprint) when it had a key.
    pub fn rows<'a>(
        &'a self,
        report_id: i64,
        kind: &'a str,
        uploaded_by: Option<i64>,
        at: DateTime<Utc>,
        upload: Option<(&'a str, &'a [u8])>,
    ) -> Vec<NewMedia<'a>> {
        let size = |bytes: &[u8]| i32::try_from(bytes.len()).unwrap_or(i32::MAX);
        let pixels = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
        self.photos
            .iter()
            .zip(0i16..)
            .map(|((key, photo), position)| NewMedia {
                report_id,
                kind,
                storage_key: key,
                content_type: CONTENT_TYPE,
                byte_size: size(&photo.jpeg),
                width: pixels(photo.width),
                height: pixels(photo.height),
                thumbnail_byte_size: size(&photo.thumbnail),
                uploaded_by,
                upload_key: upload.map(|(key, _)| key),
                upload_fingerprint: upload.map(|(_, fingerprint)| fingerprint),
                upload_position: upload.map(|_| position),
                created_at: at,
            })
            .collect()
    }

    /// Removes the photos from the store (they were refused, or their report was not stored).
    pub async fn discard(self, store: &PhotoStore) {
        for (key, _) in self.photos {
            if let Err(error) = store.delete(&key).await {
                tracing::warn!(%error, key, "an unrecorded photo could not be removed");
            }
        }
    }
}

/// An upload's Idempotency-Key and the fingerprint of what it sent.
#[derive(Debug, Clone)]
pub struct UploadKey {
    pub key: IdempotencyKey,
    pub fingerprint: Vec<u8>,
}

/// Photos recorded by an upload.
#[derive(Debug)]
pub struct Recorded {
    pub photos: Vec<Media>,
    /// Recorded by an earlier attempt with the same key.
    pub replayed: bool,
}

/// The earlier attempt's photos when it sent the same photos; refused when the key was used
/// for other photos.
fn earlier(
    photos: Vec<Media>,
    fingerprint: Option<Vec<u8>>,
    upload: &UploadKey,
) -> Result<Recorded, ApiError> {
    if fingerprint.as_deref() != Some(upload.fingerprint.as_slice()) {
        return Err(ApiError::unprocessable(
            "idempotency_key_reused",
            "this Idempotency-Key was already used for other photos",
        ));
    }
    Ok(Recorded {
        photos,
        replayed: true,
    })
}

/// The photos an earlier upload with `upload`'s key recorded, before any work is done again.
async fn replay(
    conn: &mut AsyncPgConnection,
    report_id: i64,
    upload: Option<&UploadKey>,
) -> Result<Option<Recorded>, ApiError> {
    let Some(upload) = upload else {
        return Ok(None);
    };
    match media_queries::find_upload(conn, report_id, upload.key.as_str()).await? {
        Some((photos, fingerprint)) => earlier(photos, fingerprint, upload).map(Some),
        None => Ok(None),
    }
}

/// Records `stored` as `kind` photos of `report_id` within the per-report limit; when they are
/// not recorded (refused, failed, or recorded earlier) the files leave the store again.
async fn record(
    conn: &mut AsyncPgConnection,
    service: &PhotoService,
    stored: StoredPhotos,
    report_id: i64,
    kind: &str,
    uploaded_by: Option<i64>,
    upload: Option<&UploadKey>,
) -> Result<Recorded, ApiError> {
    let key = upload.map(|upload| (upload.key.as_str(), upload.fingerprint.as_slice()));
    let rows = stored.rows(report_id, kind, uploaded_by, Utc::now(), key);
    let max = i64::try_from(service.max_per_report).unwrap_or(i64::MAX);
    let outcome = media_queries::attach_within_limit(conn, &rows, max).await;
    drop(rows);
    match outcome {
        Ok(Attached::Stored(photos)) => Ok(Recorded {
            photos,
            replayed: false,
        }),
        other => {
            stored.discard(&service.store).await;
            match (other?, upload) {
                (Attached::Earlier(photos, fingerprint), Some(upload)) => {
                    earlier(photos, fingerprint, upload)
                }
                _ => Err(limit_reached(service.max_per_report)),
            }
        }
    }
}

/// The `Idempotency-Key` of an upload, with the fingerprint of `form`.
fn upload_key(req: &HttpRequest, form: &PhotoForm) -> Result<Option<UploadKey>, ApiError> {
    Ok(crate::reports::idempotency_key(req)?.map(|key| UploadKey {
        key,
        fingerprint: form.fingerprint(),
    }))
}

/// `201` with newly recorded photos, `200` with `Idempotent-Replayed` for a retry's.
fn uploaded(recorded: Recorded) -> HttpResponse {
    let mut response = if recorded.replayed {
        let mut ok = HttpResponse::Ok();
        ok.insert_header((crate::reports::IDEMPOTENT_REPLAYED, "true"));
        ok
    } else {
        HttpResponse::Created()
    };
    response.json(
        recorded
            .photos
            .into_iter()
            .map(Photo::from)
            .collect::<Vec<_>>(),
    )
}

/// Reads, checks and stores the photos of an upload form: the shared first half of every
/// upload endpoint.
async fn upload(service: &PhotoService, form: PhotoForm) -> Result<StoredPhotos, ApiError> {
    if form.photos.is_empty() {
        return Err(ApiError::invalid_body(vec![FieldError {
            field: "photo".to_owned(),
            code: "missing_field".to_owned(),
            detail: "send at least one `photo` part".to_owned(),
        }]));
    }
    let processed = process_all(service, form.photos).await?;
    StoredPhotos::write(&service.store, processed).await
}

/// Add photos to a report.
///
/// `multipart/form-data` with one or more `photo` parts (JPEG, PNG or WebP, recognised from
/// their bytes; at most 10 MB and 40 megapixels each) and, when not signed in as the reporter,
/// the `device_id` the report was made from. Every photo is turned upright, scaled to at most
/// 2048 pixels and re-encoded, so EXIF, GPS and all other metadata are gone; a thumbnail is made
/// too. A report keeps at most 5 photos of residents (`409 photo_limit_reached`). All or none:
/// a refused photo stores nothing. With an `Idempotency-Key`, a retry answers `200` with the
/// photos the first attempt stored (`422 idempotency_key_reused` when it sent other photos).
#[utoipa::path(
    tag = "photos",
    params(
        ("id" = i64, Path, description = "Report id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Client-chosen key that makes retries safe: a retry answers the photos the first attempt stored"),
    ),
    request_body(content = PhotoUpload, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "Stored", body = Vec<Photo>),
        (status = 200, description = "Stored by an earlier attempt with this Idempotency-Key", body = Vec<Photo>),
        (status = 400, description = "A malformed multipart body", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not this report's reporter", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The report has its photos already", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "A photo over the size limit, or a body over the total limit of the upload", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not multipart, or a file that is no JPEG, PNG or WebP", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A damaged photo, one with too many pixels, or no photo", body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The photo store is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security((), ("bearer" = []))
)]
#[post("/reports/{id}/media")]
pub async fn add_report_photos(
    req: HttpRequest,
    state: web::Data<AppState>,
    MaybeAuthenticated(caller): MaybeAuthenticated,
    id: web::Path<i64>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let service = &state.photos;
    let form = read_form(&req, payload, service, &["device_id"]).await?;
    let mut errors = Vec::new();
    let device = check(
        "device_id",
        form.text("device_id")?.map(DeviceId::new).transpose(),
        &mut errors,
    );
    let Some(device) = device else {
        return Err(ApiError::invalid_body(errors));
    };
    let mut conn = state.pool.get().await?;
    let reporter = signalons_db::reports::reporter_context(&mut conn, id)
        .await?
        .ok_or_else(|| ApiError::not_found("report_not_found", format!("no report {id}")))?;
    let user = caller.as_ref().map(|actor| actor.user_id);
    let device = device.map(|device| device_hash(device.as_str()));
    if !reporter.made_by_account(user) && !reporter.made_by_device(device.as_deref()) {
        return Err(ApiError::forbidden(
            "not_the_reporter",
            "only the resident who made this report can add photos to it",
        ));
    }
    let mut identities = vec![Identity::client(&req)];
    if let Some(user) = user {
        identities.push(Identity::Account(user));
    }
    state.limiter.check(Limited::Report, &identities)?;
    let key = upload_key(&req, &form)?;
    if let Some(earlier) = replay(&mut conn, id, key.as_ref()).await? {
        return Ok(uploaded(earlier));
    }
    // Refused before any photo is decoded; counted again under the report's lock below.
    if media_queries::count(&mut conn, id, KIND_REPORT).await?
        + i64::try_from(form.photos.len()).unwrap_or(i64::MAX)
        > i64::try_from(service.max_per_report).unwrap_or(i64::MAX)
    {
        return Err(limit_reached(service.max_per_report));
    }
    let stored = upload(service, form).await?;
    let recorded = record(
        &mut conn,
        service,
        stored,
        id,
        KIND_REPORT,
        user,
        key.as_ref(),
    )
    .await?;
    tracing::info!(
        report_id = id,
        photos = recorded.photos.len(),
        replayed = recorded.replayed,
        "photos added"
    );
    Ok(uploaded(recorded))
}

/// The body of a photo upload.
#[derive(Debug, ToSchema)]
pub struct PhotoUpload {
    /// One part per photo (JPEG, PNG or WebP).
    #[schema(value_type = Vec<String>, format = Binary)]
    pub photo: Vec<Vec<u8>>,
    /// The device the report was made from, when not signed in as its reporter.
    pub device_id: Option<String>,
}

/// A report's photos.
///
/// Its residents' photos and the crew's photos of the work on its incident, oldest first.
/// Photos staff have hidden are left out.
#[utoipa::path(
    tag = "photos",
    params(("id" = i64, Path, description = "Report id")),
    responses(
        (status = 200, body = Vec<Photo>),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/reports/{id}/media")]
pub async fn list_report_photos(
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<web::Json<Vec<Photo>>, ApiError> {
    let id = id.into_inner();
    let mut conn = state.pool.get().await?;
    if !signalons_db::reports::exists(&mut conn, id).await? {
        return Err(ApiError::not_found(
            "report_not_found",
            format!("no report {id}"),
        ));
    }
    let photos = media_queries::public_for_report(&mut conn, id).await?;
    Ok(web::Json(photos.into_iter().map(Photo::from).collect()))
}

fn photo_not_found() -> ApiError {
    ApiError::not_found("photo_not_found", "no such photo")
}

/// `<key>.jpg` or `<key>.thumb.jpg`; anything else names no photo.
fn parse_file(file: &str) -> Option<(&str, Rendition)> {
    let (key, rendition) = match file.strip_suffix(".thumb.jpg") {
        Some(key) => (key, Rendition::Thumbnail),
        None => (file.strip_suffix(".jpg")?, Rendition::Photo),
    };
    is_storage_key(key).then_some((key, rendition))
}

/// Whether `actor` is staff who may see the photos of incident `incident_id`.
async fn staff_sees(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    incident_id: i64,
) -> Result<bool, ApiError> {
    let Some(job) = job_queries::state(conn, incident_id).await? else {
        return Ok(false);
    };
    Ok(actor.may(JobAction::View, job_scope(&job)).is_ok())
}

/// A photo or its thumbnail.
///
/// JPEG bytes without metadata, with an `ETag`. Caches may keep it but revalidate it on every
/// use (`Cache-Control: public, no-cache`; `If-None-Match` answers `304` without the bytes),
/// because a photo staff have hidden answers 404 from then on (staff of its department,
/// signed in, still see it, uncached).
#[utoipa::path(
    tag = "photos",
    params(("file" = String, Path, description = "`<key>.jpg` for the photo, `<key>.thumb.jpg` for its thumbnail, as in a photo's `url` and `thumbnail_url`")),
    responses(
        (status = 200, description = "The JPEG", content_type = "image/jpeg", body = Vec<u8>,
         headers(("Cache-Control" = String), ("ETag" = String))),
        (status = 304, description = "Not modified"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ),
    security((), ("bearer" = []))
)]
#[get("/media/files/{file}")]
pub async fn get_photo_file(
    req: HttpRequest,
    state: web::Data<AppState>,
    MaybeAuthenticated(caller): MaybeAuthenticated,
    file: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (key, rendition) = parse_file(&file).ok_or_else(photo_not_found)?;
    let mut conn = state.pool.get().await?;
    let (row, incident_id) = media_queries::find_by_key(&mut conn, key)
        .await?
        .ok_or_else(photo_not_found)?;
    let public = row.hidden_at.is_none();
    if !public {
        let Some(actor) = &caller else {
            return Err(photo_not_found());
        };
        if !staff_sees(&mut conn, actor, incident_id).await? {
            return Err(photo_not_found());
        }
    }
    drop(conn);
    let etag = format!("\"{key}-{}\"", rendition_tag(rendition));
    // A photo's bytes never change, but whether it may be seen does: caches keep it and ask
    // again on every use (a `304` without the bytes), so a photo hidden by staff is `404`
    // from the next view on, in browsers and shared caches alike.
    let cache = if public {
        "public, no-cache"
    } else {
        "private, no-store"
    };
    let not_modified = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|tag| tag.trim() == etag));
    if not_modified && public {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .insert_header((header::CACHE_CONTROL, cache))
            .finish());
    }
    let bytes = state
        .photos
        .store
        .get(key, rendition)
        .await
        .map_err(|error| store_failed(&error))?
        .ok_or_else(|| {
            tracing::error!(key, "a recorded photo is missing from the store");
            photo_not_found()
        })?;
    Ok(HttpResponse::Ok()
        .content_type(row.content_type)
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, cache))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CONTENT_DISPOSITION, "inline"))
        .body(bytes))
}

fn rendition_tag(rendition: Rendition) -> &'static str {
    match rendition {
        Rendition::Photo => "photo",
        Rendition::Thumbnail => "thumb",
    }
}

/// Attach photos of the work to a job.
///
/// Crews and dispatchers of the job's department, typically when closing it: `multipart/form-data`
/// with `photo` parts, checked and re-encoded like residents' photos. They are shown with
/// every report of the incident; at most 5 a job. Recorded in the job's audit log.
#[utoipa::path(
    tag = "crews",
    params(
        ("id" = i64, Path, description = "Incident id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Client-chosen key that makes retries safe: a retry answers the photos the first attempt stored"),
    ),
    request_body(content = PhotoUpload, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "Stored", body = Vec<Photo>),
        (status = 200, description = "Stored by an earlier attempt with this Idempotency-Key", body = Vec<Photo>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The job has its photos already", body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/jobs/{id}/media")]
pub async fn add_job_photos(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    id: web::Path<i64>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let service = &state.photos;
    let mut conn = state.pool.get().await?;
    let job = job_queries::state(&mut conn, id)
        .await?
        .ok_or_else(|| job_not_found(id))?;
    actor
        .may(JobAction::ChangeStatus, job_scope(&job))
        .map_err(denied)?;
    let first_report = job_queries::first_report(&mut conn, id)
        .await?
        .ok_or_else(|| job_not_found(id))?;
    let form = read_form(&req, payload, service, &[]).await?;
    let key = upload_key(&req, &form)?;
    if let Some(earlier) = replay(&mut conn, first_report, key.as_ref()).await? {
        return Ok(uploaded(earlier));
    }
    let stored = upload(service, form).await?;
    let recorded = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let recorded = record(
                conn,
                service,
                stored,
                first_report,
                KIND_RESOLUTION,
                Some(actor.user_id),
                key.as_ref(),
            )
            .await?;
            if recorded.replayed {
                return Ok(recorded);
            }
            accounts::audit(
                conn,
                NewAuditEntry {
                    jurisdiction_id: Some(job.jurisdiction_id),
                    actor_id: Some(actor.user_id),
                    action: "job.photo_add",
                    target_id: Some(id),
                    detail: serde_json::json!({
                        "photos": recorded.photos.iter().map(|photo| photo.id).collect::<Vec<_>>(),
                    }),
                    created_at: Utc::now(),
                },
            )
            .await?;
            Ok(recorded)
        })
        .await?;
    Ok(uploaded(recorded))
}

/// Every photo of a job's reports, hidden ones included.
#[utoipa::path(
    tag = "crews",
    params(("id" = i64, Path, description = "Incident id")),
    responses(
        (status = 200, body = Vec<StaffPhoto>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/jobs/{id}/media")]
pub async fn list_job_photos(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    id: web::Path<i64>,
) -> Result<web::Json<Vec<StaffPhoto>>, ApiError> {
    let id = id.into_inner();
    let mut conn = state.pool.get().await?;
    let job = job_queries::state(&mut conn, id)
        .await?
        .ok_or_else(|| job_not_found(id))?;
    actor
        .may(JobAction::View, job_scope(&job))
        .map_err(denied)?;
    let photos = media_queries::for_incident(&mut conn, id).await?;
    Ok(web::Json(
        photos.into_iter().map(StaffPhoto::from).collect(),
    ))
}

/// Hide a photo from the public, or show it again.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhotoModeration {
    /// True hides the photo from the public (a face, a number plate, a home...); false shows
    /// it again.
    pub hidden: bool,
    /// Why, for the audit log (never public).
    #[schema(min_length = 3, max_length = 2000)]
    pub reason: String,
}

/// Hide a photo, or show it again.
///
/// Staff of the report's department. A hidden photo answers 404 to the public at once (shared
/// caches may keep a copy they already had); the change lands in the job's audit log.
#[utoipa::path(
    tag = "crews",
    params(("id" = i64, Path, description = "Photo id")),
    request_body = PhotoModeration,
    responses(
        (status = 200, body = StaffPhoto),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[patch("/media/{id}")]
pub async fn moderate_photo(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    id: web::Path<i64>,
    JsonBody(body): JsonBody<PhotoModeration>,
) -> Result<web::Json<StaffPhoto>, ApiError> {
    let id = id.into_inner();
    let mut errors = Vec::new();
    let Some(reason) = check("reason", Explanation::new(&body.reason), &mut errors) else {
        return Err(ApiError::invalid_body(errors));
    };
    let mut conn = state.pool.get().await?;
    let (_, incident_id) = media_queries::find(&mut conn, id)
        .await?
        .ok_or_else(photo_not_found)?;
    let job = job_queries::state(&mut conn, incident_id)
        .await?
        .ok_or_else(photo_not_found)?;
    actor
        .may(JobAction::Moderate, job_scope(&job))
        .map_err(denied)?;
    let now = Utc::now();
    let updated = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let (hidden_at, by) = if body.hidden {
                (Some(now), Some(actor.user_id))
            } else {
                (None, None)
            };
            let updated = media_queries::set_hidden(conn, id, hidden_at, by).await?;
            accounts::audit(
                conn,
                NewAuditEntry {
                    jurisdiction_id: Some(job.jurisdiction_id),
                    actor_id: Some(actor.user_id),
                    action: if body.hidden {
                        "job.photo_hide"
                    } else {
                        "job.photo_show"
                    },
                    target_id: Some(incident_id),
                    detail: serde_json::json!({ "photo": id, "reason": reason.as_str() }),
                    created_at: now,
                },
            )
            .await?;
            Ok(updated)
        })
        .await?;
    Ok(web::Json(updated.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_photo_file_names_are_served() {
        let key = "0123456789abcdef0123456789abcdef";
        assert_eq!(
            parse_file(&format!("{key}.jpg")),
            Some((key, Rendition::Photo))
        );
        assert_eq!(
            parse_file(&format!("{key}.thumb.jpg")),
            Some((key, Rendition::Thumbnail))
        );
        for bad in [
            "../../etc/passwd",
            "..%2F..%2Fetc%2Fpasswd.jpg",
            &format!("{key}.png"),
            key,
            &format!("../{key}.jpg"),
        ] {
            assert_eq!(parse_file(bad), None, "{bad}");
        }
    }
}
