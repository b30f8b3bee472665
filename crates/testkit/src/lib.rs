//! Test support shared by peerchat's suites: a throwaway certificate authority
//! ([`tls`]), real servers from Debian packages started on free ports ([`nginx`],
//! [`coturn`], [`redis`]), networks of namespaces behind NAT routers ([`netlab`]), and a
//! signalling relay that rewrites what the server says ([`ws_relay`]), and a poll-until
//! helper in place of fixed sleeps ([`wait`]).
//! Nothing here is a mock: each helper runs the real program or makes real certificates.

pub mod coturn;
pub mod netlab;
pub mod nginx;
pub mod ports;
pub mod proxy;
pub mod redis;
pub mod tls;
pub mod wait;
pub mod ws_relay;
