//! The app's settings file (`settings.json` in the app's config directory): the server
//! URL (none: the embedded local server), the display name, the last room, the ICE
//! servers and policy, and whether plaintext signalling may leave this machine. Never a
//! secret: the publishable key and TURN credentials live in the keyring (the file keeps
//! TURN user names only). Written atomically (temporary file, then rename), readable by
//! the user alone; every value is checked before it is saved.

use std::path::{Path, PathBuf};

use peerchat_peer::{IceServer, IceTransportPolicy};
use serde::{Deserialize, Serialize};

/// Longest display name (the server's default limit is 64 bytes).
pub const MAX_NAME_BYTES: usize = 64;
/// Longest room name (the server's default limit is 128 bytes).
pub const MAX_ROOM_BYTES: usize = 128;
/// Most ICE servers kept.
pub const MAX_ICE_SERVERS: usize = 8;

/// Why settings could not be read, checked or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    #[error("{0}")]
    Invalid(String),
    #[error("cannot write the settings file {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

peerchat_peer::error_kinds!(SettingsError {
    SettingsError::Invalid(_) => "invalid_settings",
    SettingsError::Write { .. } => "settings_io",
});

/// What the person chose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Settings {
    /// `ws://` or `wss://` URL of a signalling server; `None` runs the embedded one.
    pub server_url: Option<String>,
    pub display_name: String,
    pub last_room: String,
    /// STUN/TURN servers (the SDK's type: its `Debug` never prints a credential).
    pub ice_servers: Vec<IceServer>,
    /// Let `ws://` (unencrypted) reach a server that is not on this machine. The UI then
    /// says the connection is not encrypted.
    pub allow_plaintext: bool,
    /// `relay`: connect only through TURN relays, so peers never learn this machine's
    /// addresses.
    pub ice_transport_policy: IceTransportPolicy,
    /// Where accepted files go; `None`: the Downloads folder.
    pub download_dir: Option<String>,
    /// Largest file accepted, in MiB; bigger offers are declined.
    pub max_file_mib: u64,
    /// Days the history keeps a line: `None` keeps it for good, `Some(0)` keeps none.
    pub history_days: Option<u32>,
    /// Lines kept at most for one member of a room who is away.
    pub outbox_per_member: u32,
    /// Days a line waits for a member who is away before it is given up.
    pub outbox_days: u32,
    /// Desktop notifications for lines that arrive while the window is not focused.
    pub notifications: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            server_url: None,
            display_name: String::new(),
            last_room: "lobby".into(),
            ice_servers: Vec::new(),
            allow_plaintext: false,
            ice_transport_policy: IceTransportPolicy::All,
            download_dir: None,
            max_file_mib: DEFAULT_MAX_FILE_MIB,
            history_days: None,
            outbox_per_member: DEFAULT_OUTBOX_PER_MEMBER,
            outbox_days: DEFAULT_OUTBOX_DAYS,
            notifications: true,
        }
    }
}

/// Longest a history can be kept by days (beyond it: keep for good), ~100 years.
pub const MAX_HISTORY_DAYS: u32 = 36_500;
/// Lines kept for one member who is away, by default and at most.
pub const DEFAULT_OUTBOX_PER_MEMBER: u32 = 100;
pub const MAX_OUTBOX_PER_MEMBER: u32 = 1_000;
/// Days a line waits for someone away, by default and at most.
pub const DEFAULT_OUTBOX_DAYS: u32 = 7;
pub const MAX_OUTBOX_DAYS: u32 = 90;

/// Largest file accepted by default, in MiB (16 GiB).
pub const DEFAULT_MAX_FILE_MIB: u64 = 16 * 1024;
/// Largest limit a person can set, in MiB (1 TiB).
pub const MAX_FILE_MIB: u64 = 1024 * 1024;

impl Settings {
    /// Reads the file; `None` when there is none yet (first run). A file that cannot be
    /// parsed is set aside as `settings.json.bad` and defaults are used, so a damaged
    /// file never keeps the app from starting.
    pub fn load(path: &Path) -> Option<Settings> {
        let text = std::fs::read_to_string(path).ok()?;
        match serde_json::from_str::<Settings>(&text) {
            Ok(s) if s.validate().is_ok() => Some(s),
            _ => {
                tracing::warn!(path = %path.display(), "the settings file is damaged; using defaults");
                let _ = std::fs::rename(path, path.with_extension("json.bad"));
                Some(Settings::default())
            }
        }
    }

    pub fn save(&self, path: &Path) -> Result<(), SettingsError> {
        self.validate()?;
        let write = |p: &Path| -> std::io::Result<()> {
            if let Some(dir) = p.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let tmp = p.with_extension("json.tmp");
            let mut public = self.clone();
            for s in &mut public.ice_servers {
                s.credential = None; // a secret: the keyring holds it
            }
            let text = serde_json::to_string_pretty(&public).map_err(std::io::Error::other)?;
            write_private(&tmp, text.as_bytes())?;
            std::fs::rename(&tmp, p)
        };
        write(path).map_err(|source| SettingsError::Write { path: path.to_path_buf(), source })
    }

    pub fn validate(&self) -> Result<(), SettingsError> {
        let bad = |m: String| Err(SettingsError::Invalid(m));
        if let Some(url) = &self.server_url {
            check_server_url(url)?;
        }
        if self.display_name.len() > MAX_NAME_BYTES {
            return bad(format!("the display name is longer than {MAX_NAME_BYTES} bytes"));
        }
        if self.last_room.len() > MAX_ROOM_BYTES {
            return bad(format!("the room name is longer than {MAX_ROOM_BYTES} bytes"));
        }
        if let Some(dir) = &self.download_dir {
            if !Path::new(dir).is_absolute() || dir.len() > 4096 || dir.contains('\0') {
                return bad("the download folder must be an absolute path".into());
            }
        }
        if !(1..=MAX_FILE_MIB).contains(&self.max_file_mib) {
            return bad(format!("the largest file must be 1 to {MAX_FILE_MIB} MiB"));
        }
        if self.history_days.is_some_and(|d| d > MAX_HISTORY_DAYS) {
            return bad(format!("history is kept at most {MAX_HISTORY_DAYS} days (or for good)"));
        }
        if !(1..=MAX_OUTBOX_PER_MEMBER).contains(&self.outbox_per_member) {
            return bad(format!("1 to {MAX_OUTBOX_PER_MEMBER} lines may wait for someone away"));
        }
        if !(1..=MAX_OUTBOX_DAYS).contains(&self.outbox_days) {
            return bad(format!("a line may wait 1 to {MAX_OUTBOX_DAYS} days for someone away"));
        }
        if self.ice_servers.len() > MAX_ICE_SERVERS {
            return bad(format!("at most {MAX_ICE_SERVERS} ICE servers"));
        }
        for s in &self.ice_servers {
            if s.urls.is_empty() {
                return bad("an ICE server needs at least one URL".into());
            }
            for u in &s.urls {
                let turn = u.starts_with("turn:") || u.starts_with("turns:");
                if !(u.starts_with("stun:") || turn) || u.len() > 256 {
                    return bad(format!("`{u}` is not a stun:, turn: or turns: URL"));
                }
                if turn && s.username.as_deref().is_none_or(str::is_empty) {
                    return bad(format!("the TURN server `{u}` needs a username"));
                }
            }
        }
        Ok(())
    }
}

/// Writes `bytes` to a new file only its owner can read (0600 on Unix).
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(path)?;
    #[cfg(unix)]
    f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// A signalling server URL the SDK can use: `ws://` or `wss://`, a host, at most 512 bytes.
pub fn check_server_url(url: &str) -> Result<(), SettingsError> {
    let rest = url.strip_prefix("ws://").or_else(|| url.strip_prefix("wss://"));
    match rest {
        Some(r) if !r.is_empty() && !r.starts_with('/') && url.len() <= 512 && !url.contains(char::is_whitespace) => {
            Ok(())
        }
        _ => Err(SettingsError::Invalid(format!("`{url}` is not a ws:// or wss:// server URL"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_bad_values() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("settings.json");
        assert_eq!(Settings::load(&path), None);
        let s = Settings {
            server_url: Some("wss://chat.example.com/v1".into()),
            display_name: "ada".into(),
            last_room: "lobby".into(),
            ice_servers: vec![IceServer {
                urls: vec!["stun:stun.example.com:3478".into()],
                username: None,
                credential: None,
            }],
            allow_plaintext: true,
            ice_transport_policy: IceTransportPolicy::Relay,
            download_dir: Some("/home/ada/Inbox".into()),
            max_file_mib: 100,
            history_days: Some(30),
            outbox_per_member: 10,
            outbox_days: 3,
            notifications: false,
        };
        s.save(&path).unwrap();
        assert_eq!(Settings::load(&path), Some(s.clone()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "settings.json is the user's alone");
        }

        let mut bad = s.clone();
        bad.server_url = Some("http://x".into());
        assert_eq!(bad.save(&path).unwrap_err().kind(), "invalid_settings");
        let mut bad = s.clone();
        bad.ice_servers[0].urls = vec!["turn:turn.example.com".into()];
        assert!(bad.validate().is_err(), "TURN without a user name");
        let mut turn = s.clone();
        turn.ice_servers[0] = IceServer {
            urls: vec!["turn:turn.example.com".into()],
            username: Some("ann".into()),
            credential: Some("the-turn-secret".into()),
        };
        turn.save(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("the-turn-secret"), "no TURN credential in the file: {text}");
        assert!(text.contains("\"ann\""), "{text}");
        let mut bad = s.clone();
        bad.display_name = "x".repeat(MAX_NAME_BYTES + 1);
        assert!(bad.validate().is_err());
        let mut bad = s.clone();
        bad.last_room = "r".repeat(MAX_ROOM_BYTES + 1);
        assert!(bad.validate().is_err());
        let mut bad = s.clone();
        bad.download_dir = Some("relative/inbox".into());
        assert!(bad.validate().is_err(), "a relative download folder");
        for mib in [0, MAX_FILE_MIB + 1] {
            let bad = Settings { max_file_mib: mib, ..s.clone() };
            assert!(bad.validate().is_err(), "largest file {mib} MiB");
        }
        assert!(Settings { max_file_mib: MAX_FILE_MIB, ..s.clone() }.validate().is_ok());
        for (days, ok) in
            [(None, true), (Some(0), true), (Some(MAX_HISTORY_DAYS), true), (Some(MAX_HISTORY_DAYS + 1), false)]
        {
            assert_eq!(Settings { history_days: days, ..s.clone() }.validate().is_ok(), ok, "history {days:?} days");
        }
        for (n, ok) in [(0, false), (1, true), (MAX_OUTBOX_PER_MEMBER, true), (MAX_OUTBOX_PER_MEMBER + 1, false)] {
            assert_eq!(Settings { outbox_per_member: n, ..s.clone() }.validate().is_ok(), ok, "{n} lines waiting");
        }
        for (d, ok) in [(0, false), (1, true), (MAX_OUTBOX_DAYS, true), (MAX_OUTBOX_DAYS + 1, false)] {
            assert_eq!(Settings { outbox_days: d, ..s.clone() }.validate().is_ok(), ok, "waiting {d} days");
        }

        // Every size limit: at the limit passes, one over is refused.
        let stun = |u: String| IceServer { urls: vec![u], username: None, credential: None };
        let mut ok = s.clone();
        ok.ice_servers = vec![stun("stun:h:1".into()); MAX_ICE_SERVERS];
        assert!(ok.validate().is_ok());
        ok.ice_servers.push(stun("stun:h:1".into()));
        assert!(ok.validate().is_err(), "more than {MAX_ICE_SERVERS} ICE servers");
        let mut ice = s.clone();
        ice.ice_servers = vec![stun(format!("stun:{}", "h".repeat(251)))];
        assert!(ice.validate().is_ok(), "a 256-byte ICE URL");
        ice.ice_servers = vec![stun(format!("stun:{}", "h".repeat(252)))];
        assert!(ice.validate().is_err(), "a 257-byte ICE URL");
        let url = |n: usize| format!("wss://{}", "h".repeat(n - 6));
        assert!(check_server_url(&url(512)).is_ok());
        assert!(check_server_url(&url(513)).is_err());
        assert!(check_server_url("wss://host with space/v1").is_err());
        assert!(check_server_url("wss:///v1").is_err());
    }

    #[test]
    fn a_damaged_file_is_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("settings.json");
        std::fs::write(&path, "{not json").unwrap();
        assert_eq!(Settings::load(&path), Some(Settings::default()));
        assert!(path.with_extension("json.bad").exists());
    }
}
