//! Test support shared by peerchat's suites: a throwaway certificate authority
//! ([`tls`]), and real servers from Debian packages started on free ports ([`nginx`]).
//! Nothing here is a mock: each helper runs the real program or makes real certificates.

pub mod nginx;
pub mod ports;
pub mod tls;
