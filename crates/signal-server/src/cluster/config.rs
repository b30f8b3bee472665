//! The `[cluster]` table and `--redis`: where the instances meet, and how fast they notice
//! each other. The Redis URL may carry a password, so it is a secret: it is shown only as
//! `redis://HOST:PORT`, never whole, in logs, errors and `Debug`.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

/// A Redis URL whose password never reaches a log.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct RedisUrl(String);

impl RedisUrl {
    /// Wraps a URL given on the command line.
    pub fn new(url: impl Into<String>) -> Self {
        RedisUrl(url.into())
    }

    /// The whole URL, for the Redis client only.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    /// `scheme://host:port` without user, password, database or query.
    pub fn redacted(&self) -> String {
        let (scheme, rest) = self.0.split_once("://").unwrap_or(("redis", self.0.as_str()));
        let authority = rest.split(['/', '?']).next().unwrap_or_default();
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        format!("{scheme}://{host}")
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedisUrl({})", self.redacted())
    }
}

impl fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// The `[cluster]` table of the config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterSection {
    /// `redis://[:password@]host:port[/db]`; none: a single node, no Redis.
    pub redis: Option<RedisUrl>,
    /// Prefix of every Redis key and channel, so several deployments can share a Redis.
    pub prefix: String,
    /// How often an instance says it is alive.
    pub heartbeat_ms: u64,
    /// How long an instance that stopped saying so counts as alive; its peers then leave
    /// after the grace period unless they resumed elsewhere.
    pub instance_ttl_ms: u64,
    /// How long a drained instance keeps serving hand-overs after `going_away`.
    pub drain_secs: u64,
}

impl Default for ClusterSection {
    fn default() -> Self {
        ClusterSection {
            redis: None,
            prefix: "peerchat".into(),
            heartbeat_ms: 1_000,
            instance_ttl_ms: 5_000,
            drain_secs: 10,
        }
    }
}

/// The validated cluster settings.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    pub redis: RedisUrl,
    pub prefix: String,
    pub heartbeat: Duration,
    pub instance_ttl: Duration,
    pub drain: Duration,
}

impl ClusterSection {
    /// Checks the table; `Ok(None)` when no Redis is configured.
    pub fn build(self, redis_override: Option<RedisUrl>) -> Result<Option<ClusterConfig>, String> {
        let Some(redis) = redis_override.or(self.redis) else {
            return Ok(None);
        };
        redis::Client::open(redis.expose()).map_err(|_| format!("cluster: `{redis}` is not a valid Redis URL"))?;
        if self.prefix.is_empty() || self.prefix.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("cluster: prefix must be non-empty, without spaces".into());
        }
        if self.heartbeat_ms == 0 || self.instance_ttl_ms < 2 * self.heartbeat_ms {
            return Err("cluster: instance_ttl_ms must be at least twice heartbeat_ms (and both above 0)".into());
        }
        Ok(Some(ClusterConfig {
            redis,
            prefix: self.prefix,
            heartbeat: Duration::from_millis(self.heartbeat_ms),
            instance_ttl: Duration::from_millis(self.instance_ttl_ms),
            drain: Duration::from_secs(self.drain_secs),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_never_shows() {
        let u = RedisUrl::new("redis://:s3cret@10.0.0.5:6380/2?protocol=resp3");
        assert_eq!(u.redacted(), "redis://10.0.0.5:6380");
        assert!(!format!("{u:?} {u}").contains("s3cret"));
        let u = RedisUrl::new("rediss://user:s3cret@redis.example.com");
        assert_eq!(u.to_string(), "rediss://redis.example.com");
    }

    #[test]
    fn bad_settings_are_refused() {
        let url = || Some(RedisUrl::new("redis://127.0.0.1:6379"));
        assert!(ClusterSection::default().build(None).unwrap().is_none());
        assert!(ClusterSection::default().build(url()).unwrap().is_some());
        let e = ClusterSection::default().build(Some(RedisUrl::new("http://:pw@x"))).unwrap_err();
        assert!(!e.contains("pw"), "{e}");
        let s = ClusterSection { heartbeat_ms: 1_000, instance_ttl_ms: 1_500, ..Default::default() };
        assert!(s.build(url()).is_err());
        let s = ClusterSection { prefix: "a b".into(), ..Default::default() };
        assert!(s.build(url()).is_err());
    }
}
