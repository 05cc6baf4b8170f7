//! What messages say: department emails and webhooks for new reports, resident emails for
//! status changes, in the jurisdiction's language (English or French).

use lettre::message::header::{Header, HeaderName, HeaderValue};
use signalons_db::{models::PublicReport, outbox::MessageContext, outbox::OutboxMessage};
use signalons_domain::delivery::unsubscribe_token;

use crate::DeliverySettings;

macro_rules! text_header {
    ($type:ident, $name:literal) => {
        /// A header whose value is plain ASCII text.
        #[derive(Debug, Clone)]
        pub struct $type(pub String);

        impl Header for $type {
            fn name() -> HeaderName {
                HeaderName::new_from_ascii_str($name)
            }
            fn parse(text: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
                Ok(Self(text.to_owned()))
            }
            fn display(&self) -> HeaderValue {
                HeaderValue::new(Self::name(), self.0.clone())
            }
        }
    };
}

text_header!(DeliveryKey, "X-Signalons-Delivery");
text_header!(ListUnsubscribe, "List-Unsubscribe");
text_header!(ListUnsubscribePost, "List-Unsubscribe-Post");

/// The delivery key as the local part of a Message-ID.
pub fn id_part(key: &str) -> String {
    key.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '.'
            }
        })
        .collect()
}

fn status_label(status: &str, french: bool) -> &str {
    match (status, french) {
        ("acknowledged", false) => "acknowledged",
        ("acknowledged", true) => "pris en compte",
        ("scheduled", false) => "scheduled",
        ("scheduled", true) => "planifié",
        ("in_progress", false) => "in progress",
        ("in_progress", true) => "en cours",
        ("resolved", false) => "resolved",
        ("resolved", true) => "résolu",
        ("duplicate", false) => "a duplicate",
        ("duplicate", true) => "un doublon",
        ("not_responsible", false) => "forwarded to the responsible body",
        ("not_responsible", true) => "transmis à l'organisme responsable",
        ("rejected", false) => "declined",
        ("rejected", true) => "refusé",
        ("reopened", false) => "reopened",
        ("reopened", true) => "rouvert",
        (_, false) => "received",
        (_, true) => "reçu",
    }
}

/// One message about one report.
pub struct Letter<'a> {
    settings: &'a DeliverySettings,
    message: &'a OutboxMessage,
    report: &'a PublicReport,
    context: &'a MessageContext,
    french: bool,
    /// The storage keys of the report's public photos.
    photo_keys: Vec<String>,
}

impl<'a> Letter<'a> {
    pub fn new(
        settings: &'a DeliverySettings,
        message: &'a OutboxMessage,
        report: &'a PublicReport,
        context: &'a MessageContext,
    ) -> Self {
        Self {
            settings,
            message,
            report,
            context,
            french: context.locale.starts_with("fr"),
            photo_keys: Vec::new(),
        }
    }

    /// The same letter, linking to the report's photos (storage keys).
    pub fn with_photos(self, photo_keys: Vec<String>) -> Self {
        Self { photo_keys, ..self }
    }

    fn photo_urls(&self) -> Vec<String> {
        let base = self.settings.public_url.trim_end_matches('/');
        self.photo_keys
            .iter()
            .map(|key| {
                let path = signalons_media::public_path(key, signalons_media::Rendition::Photo);
                format!("{base}{path}")
            })
            .collect()
    }

    /// The photo lines of a department's mail: nothing without photos.
    fn photo_lines(&self) -> String {
        let urls = self.photo_urls();
        if urls.is_empty() {
            return String::new();
        }
        let label = if self.french { "Photos :" } else { "Photos:" };
        format!("{label}\n{}\n", urls.join("\n"))
    }

    /// The report's public page.
    pub fn report_url(&self) -> String {
        format!(
            "{}/reports/{}",
            self.settings.public_url.trim_end_matches('/'),
            self.report.id
        )
    }

    fn map_url(&self) -> String {
        let (lat, lon) = (self.report.location.y, self.report.location.x);
        format!(
            "https://www.openstreetmap.org/?mlat={lat:.6}&mlon={lon:.6}#map=19/{lat:.6}/{lon:.6}"
        )
    }

    fn place(&self) -> String {
        let (lat, lon) = (self.report.location.y, self.report.location.x);
        match &self.report.address {
            Some(address) => format!("{address} ({lat:.5}, {lon:.5})"),
            None => format!("{lat:.5}, {lon:.5}"),
        }
    }

    /// The link that stops notifications to `email`.
    pub fn unsubscribe_url(&self, email: &str) -> String {
        unsubscribe_url(self.settings, email)
    }

    /// Subject, body and delivery key of a department's copy of a new report.
    pub fn department_mail(&self) -> (String, String, String) {
        let r = self.report;
        let category = &self.context.category_label;
        let department = self.context.department_label.as_deref().unwrap_or("-");
        let area = r.service_area_name.as_deref().unwrap_or("-");
        let description = if r.description.is_empty() {
            "-"
        } else {
            &r.description
        };
        let reported = r.created_at.format("%Y-%m-%d %H:%M UTC");
        let (subject, body) = if self.french {
            (
                format!(
                    "Nouveau signalement n° {} : {category}, {}",
                    r.id,
                    self.place()
                ),
                format!(
                    "Un habitant a signalé un problème pour {department}.\n\n\
                     Quoi : {category}\nOù : {} — {area}\nQuand : {reported}\n\
                     Description : {description}\n\n\
                     Le signalement : {}\nLa carte : {}\n{}\n-- \nSignalons, {}\n",
                    self.place(),
                    self.report_url(),
                    self.map_url(),
                    self.photo_lines(),
                    self.context.jurisdiction_name
                ),
            )
        } else {
            (
                format!("New report #{}: {category} at {}", r.id, self.place()),
                format!(
                    "A resident reported a problem for {department}.\n\n\
                     What: {category}\nWhere: {} — {area}\nWhen: {reported}\n\
                     Description: {description}\n\n\
                     The report: {}\nThe map: {}\n{}\n-- \nSignalons, {}\n",
                    self.place(),
                    self.report_url(),
                    self.map_url(),
                    self.photo_lines(),
                    self.context.jurisdiction_name
                ),
            )
        };
        (subject, body, self.message.delivery_key.clone())
    }

    /// Subject, body and delivery key of a resident's news of a status change.
    pub fn resident_mail(&self, unsubscribe: &str) -> (String, String, String) {
        let payload = &self.message.payload;
        let status = payload["status"].as_str().unwrap_or("submitted");
        let explanation = payload["explanation"].as_str().unwrap_or("");
        let label = status_label(status, self.french);
        let category = &self.context.category_label;
        let (subject, body) = if self.french {
            (
                format!("Signalement n° {} ({category}) : {label}", self.report.id),
                format!(
                    "Le signalement n° {} ({category}, {}) est maintenant {label}.\n\n\
                     L'explication du service :\n{explanation}\n\n\
                     Le suivre : {}\n\n\
                     Ne plus recevoir ces messages (un clic) : {unsubscribe}\n",
                    self.report.id,
                    self.place(),
                    self.report_url()
                ),
            )
        } else {
            (
                format!("Report #{} ({category}) is now {label}", self.report.id),
                format!(
                    "The report #{} ({category}, {}) is now {label}.\n\n\
                     What the city says:\n{explanation}\n\n\
                     Follow it: {}\n\n\
                     Stop these emails (one click): {unsubscribe}\n",
                    self.report.id,
                    self.place(),
                    self.report_url()
                ),
            )
        };
        (subject, body, self.message.delivery_key.clone())
    }

    /// The JSON a webhook receives: `report.created` (departments and apps) or
    /// `report.status_changed` (apps), with the report as the public sees it.
    pub fn webhook_body(&self) -> serde_json::Value {
        let r = self.report;
        let (event, change) = match self.message.message.as_str() {
            "status_changed" => ("report.status_changed", Some(&self.message.payload)),
            _ => ("report.created", None),
        };
        serde_json::json!({
            "event": event,
            "change": change,
            "delivery_key": self.message.delivery_key,
            "report": {
                "id": r.id,
                "url": self.report_url(),
                "incident_id": r.incident_id,
                "category": { "code": r.category_code, "name": r.category_name },
                "status": r.status,
                "priority": r.priority,
                "latitude": r.location.y,
                "longitude": r.location.x,
                "address": r.address,
                "description": r.description,
                "department": r.department_code,
                "service_area": r.service_area_code,
                "created_at": r.created_at,
                "photos": self.photo_urls(),
            }
        })
    }
}

/// The link that stops every notification to `email`.
pub fn unsubscribe_url(settings: &DeliverySettings, email: &str) -> String {
    format!(
        "{}/api/v1/unsubscribe?token={}",
        settings.public_url.trim_end_matches('/'),
        unsubscribe_token(&settings.unsubscribe_key, email)
    )
}

/// Links that act on an alert: confirm it, cancel it.
pub fn alert_link(settings: &DeliverySettings, action: &str, alert: i64) -> String {
    format!(
        "{}/api/v1/alerts/{action}?token={}",
        settings.public_url.trim_end_matches('/'),
        signalons_domain::delivery::signed_token(
            &settings.unsubscribe_key,
            &format!("{action}-alert"),
            &alert.to_string()
        )
    )
}

/// Subject and body asking the address to confirm a new alert.
pub fn alert_confirmation(
    settings: &DeliverySettings,
    alert: i64,
    french: bool,
    city: &str,
) -> (String, String) {
    let confirm = alert_link(settings, "confirm", alert);
    if french {
        (
            format!("Confirmez votre alerte Signalons ({city})"),
            format!(
                "Quelqu'un (vous, espérons-le) a demandé à recevoir les nouveaux signalements d'un \
                 secteur de {city} à cette adresse.\n\nPour confirmer : {confirm}\n\n\
                 Sans confirmation, vous ne recevrez rien.\n"
            ),
        )
    } else {
        (
            format!("Confirm your Signalons alert ({city})"),
            format!(
                "Someone (you, we hope) asked for new reports in an area of {city} to be sent \
                 to this address.\n\nTo confirm: {confirm}\n\nWithout confirmation, nothing will \
                 be sent.\n"
            ),
        )
    }
}

/// Subject and body of a daily digest of new problems in an alert's area.
pub fn alert_digest(
    settings: &DeliverySettings,
    alert: i64,
    french: bool,
    reports: &[PublicReport],
    unsubscribe: &str,
) -> (String, String) {
    let base = settings.public_url.trim_end_matches('/');
    let lines: Vec<String> = reports
        .iter()
        .map(|r| {
            let place = r
                .address
                .clone()
                .unwrap_or_else(|| format!("{:.5}, {:.5}", r.location.y, r.location.x));
            format!("- {} — {place}\n  {base}/reports/{}", r.category_name, r.id)
        })
        .collect();
    let cancel = alert_link(settings, "cancel", alert);
    if french {
        (
            format!("{} nouveaux signalements dans votre secteur", reports.len()),
            format!(
                "Depuis le dernier résumé :\n\n{}\n\nArrêter cette alerte : {cancel}\n\
                 Ne plus rien recevoir (un clic) : {unsubscribe}\n",
                lines.join("\n")
            ),
        )
    } else {
        (
            format!("{} new reports in your area", reports.len()),
            format!(
                "Since the last digest:\n\n{}\n\nStop this alert: {cancel}\n\
                 Stop all these emails (one click): {unsubscribe}\n",
                lines.join("\n")
            ),
        )
    }
}

impl Letter<'_> {
    /// Subject, body and delivery key of an immediate alert for a new problem.
    pub fn area_alert_mail(&self, alert: i64, unsubscribe: &str) -> (String, String, String) {
        let category = &self.context.category_label;
        let cancel = alert_link(self.settings, "cancel", alert);
        let (subject, body) = if self.french {
            (
                format!("Nouveau près de chez vous : {category}, {}", self.place()),
                format!(
                    "Un nouveau problème a été signalé dans votre secteur : {category}, {}.\n\n\
                     Le voir (et dire « moi aussi ») : {}\n\n\
                     Arrêter cette alerte : {cancel}\nNe plus rien recevoir (un clic) : {unsubscribe}\n",
                    self.place(),
                    self.report_url()
                ),
            )
        } else {
            (
                format!("New near you: {category} at {}", self.place()),
                format!(
                    "A new problem was reported in your area: {category} at {}.\n\n\
                     See it (and say \"me too\"): {}\n\n\
                     Stop this alert: {cancel}\nStop all these emails (one click): {unsubscribe}\n",
                    self.place(),
                    self.report_url()
                ),
            )
        };
        (subject, body, self.message.delivery_key.clone())
    }
}
