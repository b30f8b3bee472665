//! Caps per client address: how many connections one address may hold open, and how
//! many of them may be in their handshake (TCP accepted, TLS and the HTTP upgrade not
//! done yet) at once. Without them one client could take every slot of a publishable
//! key, or hold unauthenticated sockets open until the server runs out of them.
//!
//! IPv6 clients are counted per /64 (what one subscriber usually gets); IPv4-mapped
//! IPv6 addresses count as the IPv4 address. Behind a reverse proxy every connection
//! comes from the proxy: for proxies listed in `trusted_proxies` the client is the
//! right-most `X-Forwarded-For` address, and the proxy's own handshakes are not capped.
//!
//! Over the handshake cap a socket is closed at once, without a word (no normal client
//! has that many in flight); over the connection cap the upgrade is answered with HTTP
//! 429 `too_many_connections_from_address`.
//!
//! A permit is taken when the socket is accepted and given back when it is dropped; the
//! table is a plain mutex-guarded map touched a few times per connection, never awaited.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex};

/// The configured caps; 0 turns a cap off.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpCaps {
    /// Open connections per address (handshakes included).
    pub connections: usize,
    /// Connections per address still in their handshake.
    pub handshakes: usize,
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<IpNet>,
}

/// An address with a prefix length (`10.0.0.0/8`, `::1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl std::str::FromStr for IpNet {
    type Err = String;

    fn from_str(s: &str) -> Result<IpNet, String> {
        let (ip, prefix) = s.split_once('/').map_or((s, None), |(a, p)| (a, Some(p)));
        let addr: IpAddr = ip.trim().parse().map_err(|_| format!("`{s}` is not an IP address or IP/prefix"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p.trim().parse::<u8>().ok().filter(|p| *p <= max).ok_or(format!("`{s}`: bad prefix length"))?,
        };
        Ok(IpNet { addr: canonical(addr), prefix })
    }
}

impl IpNet {
    /// Whether `ip` lies in this network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                mask(u128::from(u32::from(n)), 32, self.prefix) == mask(u128::from(u32::from(a)), 32, self.prefix)
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                mask(u128::from(n), 128, self.prefix) == mask(u128::from(a), 128, self.prefix)
            }
            _ => false,
        }
    }
}

fn mask(bits: u128, width: u8, prefix: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        bits >> (width - prefix)
    }
}

/// IPv4-mapped IPv6 addresses as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The unit one cap applies to: the IPv4 address, or the IPv6 /64.
fn bucket(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
        v4 => v4,
    }
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IpRefusal {
    #[error("too many connections from this address")]
    Connections,
    #[error("too many handshakes in progress from this address")]
    Handshakes,
}

#[derive(Debug, Default, Clone, Copy)]
struct Use {
    connections: usize,
    handshakes: usize,
}

/// The per-address counters of one server.
#[derive(Debug, Clone)]
pub struct IpLimits {
    caps: Arc<IpCaps>,
    table: Arc<Mutex<HashMap<IpAddr, Use>>>,
}

/// One accepted socket's share of its address's caps, given back when dropped.
#[derive(Debug)]
pub struct IpPermit {
    limits: IpLimits,
    peer: IpAddr,
    /// Where the socket counts as a handshake in progress.
    handshake: Option<IpAddr>,
    /// Where the socket counts as a connection.
    connection: Option<IpAddr>,
}

impl IpLimits {
    pub fn new(caps: IpCaps) -> IpLimits {
        IpLimits { caps: Arc::new(caps), table: Arc::default() }
    }

    fn trusted(&self, peer: IpAddr) -> bool {
        self.caps.trusted_proxies.iter().any(|n| n.contains(peer))
    }

    /// Takes a permit for a socket just accepted from `peer`: it counts as a handshake
    /// (a trusted proxy's are not counted). Refused: close the socket without a word,
    /// no normal client has that many handshakes in flight.
    pub fn accept(&self, peer: IpAddr) -> Result<IpPermit, IpRefusal> {
        let mut permit = IpPermit { limits: self.clone(), peer, handshake: None, connection: None };
        if !self.trusted(peer) {
            let at = bucket(peer);
            self.change(at, |u| {
                if self.caps.handshakes > 0 && u.handshakes >= self.caps.handshakes {
                    return Err(IpRefusal::Handshakes);
                }
                u.handshakes += 1;
                Ok(())
            })?;
            permit.handshake = Some(at);
        }
        Ok(permit)
    }

    /// Applies `f` to the counters of `at`, dropping the entry once it is all zeros.
    fn change<T>(&self, at: IpAddr, f: impl FnOnce(&mut Use) -> T) -> T {
        let mut t = self.table.lock().unwrap_or_else(|p| p.into_inner());
        let u = t.entry(at).or_default();
        let r = f(u);
        if u.connections == 0 && u.handshakes == 0 {
            t.remove(&at);
        }
        r
    }

    /// Addresses with something counted, for tests and metrics.
    pub fn tracked(&self) -> usize {
        self.table.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

impl IpPermit {
    /// At the upgrade request: counts the socket as a connection of its client (the
    /// peer, or for a trusted proxy the right-most `X-Forwarded-For` address, which the
    /// proxy added). Refused: answer HTTP 429.
    pub fn admit(&mut self, forwarded_for: Option<&str>) -> Result<(), IpRefusal> {
        if self.connection.is_some() {
            return Ok(());
        }
        let client = if self.limits.trusted(self.peer) {
            let named = forwarded_for.and_then(|h| h.rsplit(',').next()).and_then(|a| a.trim().parse().ok());
            let Some(named) = named else { return Ok(()) };
            named
        } else {
            self.peer
        };
        let at = bucket(client);
        let cap = self.limits.caps.connections;
        self.limits.change(at, |u| {
            if cap > 0 && u.connections >= cap {
                return Err(IpRefusal::Connections);
            }
            u.connections += 1;
            Ok(())
        })?;
        self.connection = Some(at);
        Ok(())
    }

    /// The handshake is over (the socket is a WebSocket now).
    pub fn handshake_done(&mut self) {
        if let Some(at) = self.handshake.take() {
            self.limits.change(at, |u| u.handshakes = u.handshakes.saturating_sub(1));
        }
    }
}

impl Drop for IpPermit {
    fn drop(&mut self) {
        self.handshake_done();
        if let Some(at) = self.connection.take() {
            self.limits.change(at, |u| u.connections = u.connections.saturating_sub(1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn limits(connections: usize, handshakes: usize, proxies: &[&str]) -> IpLimits {
        let trusted_proxies = proxies.iter().map(|p| p.parse().unwrap()).collect();
        IpLimits::new(IpCaps { connections, handshakes, trusted_proxies })
    }

    fn connected(l: &IpLimits, peer: &str) -> Result<IpPermit, IpRefusal> {
        let mut p = l.accept(ip(peer))?;
        p.admit(None)?;
        p.handshake_done();
        Ok(p)
    }

    #[test]
    fn handshakes_are_capped_until_they_complete() {
        let l = limits(10, 2, &[]);
        let mut a = l.accept(ip("192.0.2.1")).unwrap();
        let _b = l.accept(ip("192.0.2.1")).unwrap();
        assert_eq!(l.accept(ip("192.0.2.1")).unwrap_err(), IpRefusal::Handshakes);
        assert!(l.accept(ip("192.0.2.2")).is_ok(), "another address has its own caps");
        a.handshake_done();
        assert!(l.accept(ip("192.0.2.1")).is_ok());
    }

    #[test]
    fn connections_are_capped_and_freed_when_dropped() {
        let l = limits(2, 0, &[]);
        let mut held: Vec<IpPermit> = (0..2).map(|_| connected(&l, "192.0.2.1").unwrap()).collect();
        assert_eq!(connected(&l, "192.0.2.1").unwrap_err(), IpRefusal::Connections);
        held.pop();
        assert!(connected(&l, "192.0.2.1").is_ok());
        drop(held);
        assert_eq!(l.tracked(), 0, "nothing is kept for addresses that left");
    }

    #[test]
    fn an_ipv6_subscriber_is_one_address_per_64_and_mapped_v4_is_v4() {
        let l = limits(1, 0, &[]);
        let _a = connected(&l, "2001:db8:1:2::1").unwrap();
        assert!(connected(&l, "2001:db8:1:2:ffff::9").is_err(), "same /64");
        assert!(connected(&l, "2001:db8:1:3::1").is_ok(), "another /64");
        let _v4 = connected(&l, "192.0.2.7").unwrap();
        assert!(connected(&l, "::ffff:192.0.2.7").is_err());
    }

    #[test]
    fn a_trusted_proxy_is_not_capped_but_the_clients_it_names_are() {
        let l = limits(1, 1, &["10.0.0.0/8", "::1"]);
        let mut p1 = l.accept(ip("10.1.2.3")).unwrap();
        let mut p2 = l.accept(ip("10.1.2.3")).unwrap();
        let mut p3 = l.accept(ip("::1")).unwrap();
        p3.admit(None).unwrap();
        p1.admit(Some("203.0.113.9, 198.51.100.4")).unwrap();
        assert_eq!(p2.admit(Some("198.51.100.4")).unwrap_err(), IpRefusal::Connections);
        assert!(l.accept(ip("11.0.0.1")).is_ok(), "outside the trusted network");
        drop(p1);
        assert!(p2.admit(Some("198.51.100.4")).is_ok());
    }

    #[test]
    fn zero_turns_a_cap_off_and_bad_networks_are_refused() {
        let l = limits(0, 0, &[]);
        let held: Vec<IpPermit> = (0..1000).map(|_| l.accept(ip("192.0.2.1")).unwrap()).collect();
        assert_eq!(held.len(), 1000);
        assert!("10.0.0.0/33".parse::<IpNet>().is_err());
        assert!("nonsense".parse::<IpNet>().is_err());
        assert!("10.0.0.0/0".parse::<IpNet>().unwrap().contains(ip("203.0.113.1")));
    }
}
