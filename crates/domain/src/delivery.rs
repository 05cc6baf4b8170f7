//! Delivery rules: how a department receives its work (checked when it is saved, not when a
//! message fails), when a failed delivery is retried, how webhooks are signed and how
//! unsubscribe links are made.

use std::{net::IpAddr, time::Duration};

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::{ContactEmail, Violation};

/// How a department receives new reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Channel {
    /// The crew queue of this system: nothing is sent.
    Internal,
    /// A readable email to one address.
    Email { to: String },
    /// A signed JSON POST.
    Webhook { url: String, secret: String },
    /// Forwarded as a GeoReport v2 request to another Open311 server, whose status changes
    /// are pulled back.
    Open311 {
        /// The server's base, e.g. `https://311.example.org/open311/v2`.
        endpoint: String,
        api_key: String,
        /// Its `jurisdiction_id`, when it serves several cities.
        jurisdiction_id: Option<String>,
    },
}

/// The shortest webhook secret accepted: it signs every delivery.
pub const MIN_WEBHOOK_SECRET: usize = 16;

fn config_error(message: impl Into<String>) -> Violation {
    Violation::new("invalid_channel_config", message)
}

/// Checks an `http(s)://host[:port][/path]` URL without credentials.
pub fn web_url(text: &str) -> Result<String, Violation> {
    let text = text.trim();
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
        .ok_or_else(|| config_error("the url must start with http:// or https://"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let valid = text.len() <= 2000
        && !host.is_empty()
        && !host.contains('@')
        && !text.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(text.to_owned())
    } else {
        Err(config_error(
            "the url needs a host, no credentials and no spaces (at most 2000 characters)",
        ))
    }
}

/// Which addresses webhooks and Open311 forwards may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Targets {
    /// Public addresses only (the default): a URL saved through the API must not make the
    /// server call into its own network (loopback, private, link-local: cloud metadata...).
    #[default]
    PublicOnly,
    /// Any address, private networks included: receivers on the same network, and tests.
    Any,
}

/// Whether `ip` is an address of the public internet (not loopback, private, link-local,
/// shared, documentation, multicast or unspecified; IPv4-mapped IPv6 judged as IPv4).
pub fn is_public_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                // shared address space (carrier-grade NAT), 100.64.0.0/10
                || (a == 100 && (64..128).contains(&b))
                // benchmarking, 198.18.0.0/15
                || (a == 198 && (b == 18 || b == 19)))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_ip(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                // unique local, fc00::/7
                || (first & 0xfe00) == 0xfc00
                // link-local, fe80::/10
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

impl Targets {
    /// Checks that `url` may be called: with [`Targets::PublicOnly`], its host must not be
    /// `localhost` nor an address outside the public internet, in any spelling an HTTP client
    /// accepts (`127.1`, `2130706433`, `[::ffff:127.0.0.1]`...). Host names are checked again
    /// when they are resolved, at send time.
    pub fn check_url(self, url: &str) -> Result<(), Violation> {
        if self == Self::Any {
            return Ok(());
        }
        let refused = || {
            Violation::new(
                "private_target",
                "the url must reach a public address, not loopback, private or link-local ones",
            )
        };
        let parsed = url::Url::parse(url).map_err(|_| config_error("the url cannot be parsed"))?;
        match parsed.host() {
            Some(url::Host::Ipv4(ip)) if !is_public_ip(IpAddr::V4(ip)) => Err(refused()),
            Some(url::Host::Ipv6(ip)) if !is_public_ip(IpAddr::V6(ip)) => Err(refused()),
            Some(url::Host::Domain(name))
                if name == "localhost" || name.ends_with(".localhost") =>
            {
                Err(refused())
            }
            Some(_) => Ok(()),
            None => Err(config_error("the url needs a host")),
        }
    }
}

impl Channel {
    /// Checks that the channel's URL may be called (see [`Targets::check_url`]).
    pub fn check_targets(&self, targets: Targets) -> Result<(), Violation> {
        match self {
            Self::Webhook { url, .. } => targets.check_url(url),
            Self::Open311 { endpoint, .. } => targets.check_url(endpoint),
            Self::Internal | Self::Email { .. } => Ok(()),
        }
    }

    /// The channel named `channel` with its configuration `config` (a JSON object).
    pub fn parse(channel: &str, config: &Value) -> Result<Self, Violation> {
        let object = config
            .as_object()
            .ok_or_else(|| config_error("channel_config must be an object"))?;
        let text = |key: &str| {
            object
                .get(key)
                .and_then(Value::as_str)
                .ok_or_else(|| config_error(format!("the {channel} channel needs `{key}`")))
        };
        let allowed: &[&str] = match channel {
            "internal" => &[],
            "email" => &["to"],
            "webhook" => &["url", "secret"],
            "open311" => &["endpoint", "api_key", "jurisdiction_id"],
            other => return Err(config_error(format!("unknown channel `{other}`"))),
        };
        if let Some(unknown) = object.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(config_error(format!(
                "unknown key `{unknown}` for the {channel} channel"
            )));
        }
        match channel {
            "email" => {
                let to = ContactEmail::new(text("to")?)
                    .map_err(|_| config_error("`to` must be an email address"))?;
                Ok(Self::Email {
                    to: to.as_str().to_owned(),
                })
            }
            "webhook" => {
                let url = web_url(text("url")?)?;
                let secret = text("secret")?;
                if secret.len() < MIN_WEBHOOK_SECRET || secret.len() > 200 {
                    return Err(config_error(format!(
                        "`secret` must be {MIN_WEBHOOK_SECRET} to 200 characters"
                    )));
                }
                Ok(Self::Webhook {
                    url,
                    secret: secret.to_owned(),
                })
            }
            "open311" => {
                let endpoint = web_url(text("endpoint")?)?.trim_end_matches('/').to_owned();
                let api_key = text("api_key")?;
                if api_key.is_empty() || api_key.len() > 200 {
                    return Err(config_error("`api_key` must be 1 to 200 characters"));
                }
                let jurisdiction_id = match object.get("jurisdiction_id") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(id)) if !id.is_empty() && id.len() <= 100 => {
                        Some(id.clone())
                    }
                    Some(_) => {
                        return Err(config_error(
                            "`jurisdiction_id` must be 1 to 100 characters",
                        ));
                    }
                };
                Ok(Self::Open311 {
                    endpoint,
                    api_key: api_key.to_owned(),
                    jurisdiction_id,
                })
            }
            _ => Ok(Self::Internal),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Self::Internal => "internal",
            Self::Email { .. } => "email",
            Self::Webhook { .. } => "webhook",
            Self::Open311 { .. } => "open311",
        }
    }
}

/// When the next attempt of a delivery that failed `attempts` times should happen: doubling
/// from `base`, at most an hour, spread by ±20 % (`spread` in 0..1) so that failures of many
/// messages at once do not retry at once.
pub fn retry_delay(base: Duration, attempts: u32, spread: f64) -> Duration {
    let doubled = base.saturating_mul(1u32 << attempts.saturating_sub(1).min(16));
    let capped = doubled.min(Duration::from_secs(3600));
    capped.mul_f64(0.8 + 0.4 * spread.clamp(0.0, 1.0))
}

fn mac(key: &[u8], parts: &[&[u8]]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    for part in parts {
        mac.update(part);
    }
    mac
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The `Signalons-Signature` header of a webhook: `t=<unix seconds>,v1=<hex HMAC-SHA256 of
/// "<t>.<body>" with the secret>`. Receivers recompute it and refuse old timestamps.
pub fn webhook_signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let t = timestamp.to_string();
    let digest = mac(secret.as_bytes(), &[t.as_bytes(), b".", body])
        .finalize()
        .into_bytes();
    format!("t={t},v1={}", hex(&digest))
}

/// The key unsubscribe links are signed with, derived from the server's token secret.
pub fn unsubscribe_key(secret: &[u8]) -> Vec<u8> {
    mac(secret, &[b"signalons unsubscribe links"])
        .finalize()
        .into_bytes()
        .to_vec()
}

/// A token carrying `value` for `purpose` (unsubscribing an address, confirming or cancelling
/// an alert), signed with `key`: `<hex value>.<hex HMAC-SHA256>`.
pub fn signed_token(key: &[u8], purpose: &str, value: &str) -> String {
    let digest = mac(key, &[purpose.as_bytes(), b":", value.as_bytes()])
        .finalize()
        .into_bytes();
    format!("{}.{}", hex(value.as_bytes()), hex(&digest))
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || text.len() > 600 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The value a token for `purpose` carries, when its signature holds.
pub fn verify_signed_token(key: &[u8], purpose: &str, token: &str) -> Option<String> {
    let (value, signature) = token.split_once('.')?;
    let value = String::from_utf8(unhex(value)?).ok()?;
    mac(key, &[purpose.as_bytes(), b":", value.as_bytes()])
        .verify_slice(&unhex(signature)?)
        .ok()
        .map(|()| value)
}

/// The purpose of unsubscribe tokens.
pub const UNSUBSCRIBE: &str = "unsubscribe";

/// A token that unsubscribes `email` from notifications, signed with `key`.
pub fn unsubscribe_token(key: &[u8], email: &str) -> String {
    signed_token(key, UNSUBSCRIBE, &email.trim().to_lowercase())
}

/// The email an unsubscribe token was made for, when its signature holds.
pub fn verify_unsubscribe_token(key: &[u8], token: &str) -> Option<String> {
    verify_signed_token(key, UNSUBSCRIBE, token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn channel_configurations_are_checked_when_saved() {
        assert_eq!(
            Channel::parse("internal", &json!({})).unwrap(),
            Channel::Internal
        );
        assert_eq!(
            Channel::parse("email", &json!({"to": "pwd@city.example.org"})).unwrap(),
            Channel::Email {
                to: "pwd@city.example.org".into()
            }
        );
        for (channel, config) in [
            ("email", json!({"to": "not an address"})),
            ("email", json!({})),
            ("email", json!({"to": "a@b.org", "cc": "x"})),
            (
                "webhook",
                json!({"url": "ftp://city.example.org", "secret": "0123456789abcdef"}),
            ),
            (
                "webhook",
                json!({"url": "https://user:pw@city.example.org", "secret": "0123456789abcdef"}),
            ),
            (
                "webhook",
                json!({"url": "https://city.example.org/hook", "secret": "short"}),
            ),
            ("webhook", json!("https://city.example.org")),
            (
                "open311",
                json!({"endpoint": "https://311.example.org/open311/v2"}),
            ),
            (
                "open311",
                json!({"endpoint": "mailto:x@y.org", "api_key": "k"}),
            ),
            ("carrier_pigeon", json!({})),
        ] {
            let refused = Channel::parse(channel, &config).unwrap_err();
            assert_eq!(refused.code, "invalid_channel_config", "{channel} {config}");
        }
        assert_eq!(
            Channel::parse(
                "open311",
                &json!({"endpoint": "https://311.example.org/open311/v2/", "api_key": "k"})
            )
            .unwrap(),
            Channel::Open311 {
                endpoint: "https://311.example.org/open311/v2".into(),
                api_key: "k".into(),
                jurisdiction_id: None
            }
        );
        assert!(
            Channel::parse(
                "webhook",
                &json!({"url": "https://city.example.org/hook?x=1", "secret": "0123456789abcdef"})
            )
            .is_ok()
        );
    }

    #[test]
    fn retries_back_off_exponentially_within_bounds() {
        let base = Duration::from_secs(10);
        assert_eq!(retry_delay(base, 1, 0.5), Duration::from_secs(10));
        assert_eq!(retry_delay(base, 3, 0.5), Duration::from_secs(40));
        assert_eq!(retry_delay(base, 40, 0.5), Duration::from_secs(3600));
        assert_eq!(retry_delay(base, 1, 0.0), Duration::from_secs(8));
        assert_eq!(retry_delay(base, 1, 1.0), Duration::from_secs(12));
    }

    #[test]
    fn webhook_signatures_match_a_known_answer() {
        // Computed outside this code, with OpenSSL:
        // printf '1700000000.{"event":"report.created"}' | openssl dgst -sha256 -hmac 0123456789abcdef
        assert_eq!(
            webhook_signature(
                "0123456789abcdef",
                1_700_000_000,
                br#"{"event":"report.created"}"#
            ),
            "t=1700000000,v1=1573985525c4c9ceae251d77c12e6dc509b33002174af69f01173e9266150af5"
        );
    }

    #[test]
    fn only_public_targets_unless_allowed() {
        for url in [
            "http://127.0.0.1:8080/hook",
            "http://127.1/hook",
            "http://2130706433/hook",
            "http://0x7f000001/hook",
            "http://localhost/hook",
            "http://api.localhost/hook",
            "http://[::1]/hook",
            "http://[::ffff:127.0.0.1]/hook",
            "http://10.0.0.5/hook",
            "http://172.16.3.4/hook",
            "http://192.168.1.10/hook",
            "http://169.254.169.254/latest/meta-data",
            "http://[fe80::1]/hook",
            "http://[fd00::1]/hook",
            "http://100.64.0.1/hook",
            "http://0.0.0.0/hook",
        ] {
            let refused = Targets::PublicOnly.check_url(url).unwrap_err();
            assert_eq!(refused.code, "private_target", "{url}");
            assert!(Targets::Any.check_url(url).is_ok(), "{url}");
        }
        for url in [
            "https://hooks.example.org/signalons",
            "http://93.184.216.34/hook",
            "http://[2606:2800:220:1:248:1893:25c8:1946]/hook",
        ] {
            assert!(Targets::PublicOnly.check_url(url).is_ok(), "{url}");
        }
        let channel = Channel::parse(
            "webhook",
            &json!({"url": "http://127.0.0.1:9/x", "secret": "0123456789abcdef"}),
        )
        .unwrap();
        assert!(channel.check_targets(Targets::PublicOnly).is_err());
        assert!(channel.check_targets(Targets::Any).is_ok());
    }

    #[test]
    fn webhook_signatures_cover_time_and_body() {
        let signature = webhook_signature("0123456789abcdef", 1_700_000_000, b"{}");
        assert!(signature.starts_with("t=1700000000,v1="));
        assert_eq!(signature.len(), "t=1700000000,v1=".len() + 64);
        assert_ne!(
            signature,
            webhook_signature("0123456789abcdef", 1_700_000_001, b"{}")
        );
        assert_ne!(
            signature,
            webhook_signature("0123456789abcdef", 1_700_000_000, b"{ }")
        );
    }

    #[test]
    fn unsubscribe_tokens_cannot_be_forged() {
        let token = unsubscribe_token(b"key", "Ada@Example.org");
        assert_eq!(
            verify_unsubscribe_token(b"key", &token).as_deref(),
            Some("ada@example.org")
        );
        assert_eq!(verify_unsubscribe_token(b"other key", &token), None);
        let forged = token.replacen(&token[..2], "62", 1);
        assert_eq!(verify_unsubscribe_token(b"key", &forged), None);
        assert_eq!(verify_unsubscribe_token(b"key", "garbage"), None);
        let confirm = signed_token(b"key", "confirm-alert", "42");
        assert_eq!(
            verify_signed_token(b"key", "confirm-alert", &confirm).as_deref(),
            Some("42")
        );
        assert_eq!(verify_signed_token(b"key", "cancel-alert", &confirm), None);
    }
}
