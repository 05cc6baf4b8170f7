//! The address a request comes from: the TCP peer, or — when the peer is a proxy this server
//! trusts (a load balancer) — the client that proxy names in `X-Forwarded-For`.
//!
//! Anyone can send `X-Forwarded-For`, so the header is read only from trusted peers, from its
//! right end (what the nearest proxy appended) leftwards, skipping trusted proxies: the first
//! address that is not one of ours is the client. Without trusted proxies (the default) the
//! header is ignored.

use std::{fmt, net::IpAddr, str::FromStr};

use actix_web::{HttpRequest, web};

use crate::AppState;

/// An address range: `10.0.0.0/8`, `fd00::/8`, or one address (`192.0.2.7`, `::1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange {
    network: IpAddr,
    prefix: u8,
}

/// Why a range was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an IP address or a CIDR range such as 10.0.0.0/8")]
pub struct InvalidRange(String);

fn bits(ip: IpAddr) -> (u128, u8) {
    match ip {
        IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
        IpAddr::V6(v6) => (u128::from(v6), 128),
    }
}

fn mask(width: u8, prefix: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        (u128::MAX << (128 - u32::from(prefix))) >> (128 - u32::from(width))
    }
}

impl IpRange {
    /// Whether `ip` is in the range (an IPv4 address written as IPv6, `::ffff:a.b.c.d`, is the
    /// IPv4 address).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let (candidate, width) = bits(ip.to_canonical());
        let (network, network_width) = bits(self.network);
        width == network_width && candidate & mask(width, self.prefix) == network
    }
}

impl FromStr for IpRange {
    type Err = InvalidRange;
    fn from_str(text: &str) -> Result<Self, InvalidRange> {
        let invalid = || InvalidRange(text.to_owned());
        let (address, prefix) = match text.trim().split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text.trim(), None),
        };
        let address = address
            .parse::<IpAddr>()
            .map_err(|_| invalid())?
            .to_canonical();
        let (value, width) = bits(address);
        let prefix = match prefix {
            None => width,
            Some(prefix) => prefix
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= width)
                .ok_or_else(invalid)?,
        };
        let network = match address {
            IpAddr::V4(_) => IpAddr::from(std::net::Ipv4Addr::from(
                (value & mask(width, prefix)) as u32,
            )),
            IpAddr::V6(_) => IpAddr::from(std::net::Ipv6Addr::from(value & mask(width, prefix))),
        };
        Ok(Self { network, prefix })
    }
}

impl fmt::Display for IpRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// The proxies whose `X-Forwarded-For` this server believes (none by default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpRange>);

impl TrustedProxies {
    /// Parses `ranges` (addresses or CIDR ranges); the first invalid one is refused.
    pub fn parse<S: AsRef<str>>(ranges: &[S]) -> Result<Self, InvalidRange> {
        ranges
            .iter()
            .map(|range| range.as_ref().parse())
            .collect::<Result<_, _>>()
            .map(Self)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|range| range.contains(ip))
    }

    /// The client behind `peer`, given the `X-Forwarded-For` values in the order received.
    pub fn client<'a>(
        &self,
        peer: Option<IpAddr>,
        forwarded_for: impl IntoIterator<Item = &'a str>,
    ) -> Option<IpAddr> {
        let mut client = peer?.to_canonical();
        if !self.trusts(client) {
            return Some(client);
        }
        let hops: Vec<&str> = forwarded_for
            .into_iter()
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .collect();
        for hop in hops.into_iter().rev() {
            // A hop that is not an address ends what can be believed: the last proxy it came
            // through is what is known.
            let Some(ip) = parse_hop(hop) else {
                break;
            };
            client = ip;
            if !self.trusts(ip) {
                break;
            }
        }
        Some(client)
    }
}

/// An `X-Forwarded-For` entry: an address, possibly with a port (`192.0.2.7:4711`,
/// `[2001:db8::1]:4711`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
        .map(|ip| ip.to_canonical())
}

/// The address `req` comes from, as the server's trusted proxies allow it to be known; `None`
/// when the connection has no IP peer.
pub fn client_ip(req: &HttpRequest) -> Option<IpAddr> {
    let peer = req.peer_addr().map(|addr| addr.ip());
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|value| value.to_str().ok());
    match req.app_data::<web::Data<AppState>>() {
        Some(state) => state.trusted_proxies.client(peer, forwarded),
        None => peer,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn ranges_hold_their_addresses() {
        let lan: IpRange = "10.1.0.0/16".parse().unwrap();
        assert!(lan.contains(ip("10.1.200.3")));
        assert!(!lan.contains(ip("10.2.0.1")));
        assert!(lan.contains(ip("::ffff:10.1.0.9")), "IPv4 written as IPv6");
        let one: IpRange = "192.0.2.7".parse().unwrap();
        assert!(one.contains(ip("192.0.2.7")) && !one.contains(ip("192.0.2.8")));
        let v6: IpRange = "fd00::/8".parse().unwrap();
        assert!(v6.contains(ip("fd12:3456::1")) && !v6.contains(ip("fe80::1")));
        assert!(!v6.contains(ip("10.1.0.1")));
        assert_eq!(
            "10.1.2.3/8".parse::<IpRange>().unwrap().to_string(),
            "10.0.0.0/8"
        );
        assert!(
            "0.0.0.0/0"
                .parse::<IpRange>()
                .unwrap()
                .contains(ip("203.0.113.9"))
        );
        for bad in ["10.0.0.0/33", "fd00::/129", "localhost", "10.0.0/8", ""] {
            assert!(bad.parse::<IpRange>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_header_counts_only_behind_a_trusted_proxy() {
        let none = TrustedProxies::default();
        let balancer = TrustedProxies::parse(&["10.0.0.0/8", "::1"]).unwrap();
        let peer = Some(ip("10.0.0.5"));
        // Without trusted proxies the header is ignored.
        assert_eq!(none.client(peer, ["203.0.113.9"]), peer);
        // A stranger's header is ignored too.
        assert_eq!(
            balancer.client(Some(ip("198.51.100.1")), ["203.0.113.9"]),
            Some(ip("198.51.100.1"))
        );
        // Behind the balancer: the rightmost address that is not a proxy of ours, whatever the
        // client wrote before it.
        assert_eq!(
            balancer.client(peer, ["1.2.3.4, 203.0.113.9", "10.0.0.4"]),
            Some(ip("203.0.113.9"))
        );
        assert_eq!(
            balancer.client(peer, ["203.0.113.9:4711"]),
            Some(ip("203.0.113.9"))
        );
        // Garbage stops the walk at the last proxy; no header leaves the proxy itself.
        assert_eq!(balancer.client(peer, ["nonsense"]), peer);
        assert_eq!(balancer.client(peer, []), peer);
        assert_eq!(balancer.client(None, ["203.0.113.9"]), None);
    }
}
