//! Key commands: save (keyring, or this session only), check against the server,
//! forget, and the local server's key, provisioned into the keyring on first use.

use std::time::Duration;

use peerchat_peer::{check_key, PublishableKey};
use rand::RngCore;

use super::{AppStatus, Backend};
use crate::embedded::Embedded;
use crate::error::{AppProblem, CommandError};
use crate::settings::check_server_url;

/// Longest key accepted.
const MAX_KEY_BYTES: usize = 256;
/// How long a key check may take.
const CHECK_WAIT: Duration = Duration::from_secs(10);

/// A pasted key, trimmed and checked for shape (not yet against a server).
pub(crate) fn parse_key(key: &str) -> Result<PublishableKey, CommandError> {
    let k = key.trim();
    if k.is_empty() {
        return Err(CommandError::invalid("the key is empty"));
    }
    if k.len() > MAX_KEY_BYTES || k.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(CommandError::invalid("this does not look like a publishable key"));
    }
    Ok(PublishableKey::new(k))
}

impl Backend {
    /// Saves `key` for `server_url` (in the keyring, or in memory with `session_only`)
    /// and makes that server the one in use.
    pub async fn save_key(
        &self,
        window: &str,
        server_url: &str,
        key: &str,
        session_only: bool,
    ) -> Result<AppStatus, CommandError> {
        let url = server_url.trim();
        check_server_url(url)?;
        let key = parse_key(key)?;
        if session_only {
            self.vault.save_for_session(url, key);
        } else {
            self.vault.save(url, key).await?;
        }
        self.update_settings(|s| s.server_url = Some(url.to_string()))?;
        tracing::info!(server = url, session_only, "publishable key saved");
        Ok(self.status(window).await)
    }

    /// Checks a key against a server: the given one, or the one saved for the server in use.
    pub async fn check_key(&self, server_url: Option<&str>, key: Option<&str>) -> Result<(), CommandError> {
        let url = match server_url {
            Some(u) => {
                check_server_url(u.trim())?;
                u.trim().to_string()
            }
            None => self.server_url().0,
        };
        let key = match key {
            Some(k) => parse_key(k)?,
            None => match self.vault.get(&url).await? {
                Some((k, _)) => k,
                None => return Err(AppProblem::NoKey.error("no key is saved for this server")),
            },
        };
        check_key(&url, &key, &self.tls_options(&url), CHECK_WAIT)
            .await
            .map_err(|e| CommandError::new(e.kind(), e.to_string()))
    }

    /// Forgets the key of the server in use (keyring and session).
    pub async fn forget_key(&self, window: &str) -> Result<AppStatus, CommandError> {
        let (url, _) = self.server_url();
        self.vault.forget(&url).await?;
        tracing::info!(server = %url, "publishable key forgotten");
        Ok(self.status(window).await)
    }

    /// Switches to the embedded local server, provisioning its key (in the keyring, or
    /// for this session only).
    pub async fn use_local_server(&self, window: &str, session_only: bool) -> Result<AppStatus, CommandError> {
        self.update_settings(|s| s.server_url = None)?;
        self.ensure_local(session_only).await?;
        Ok(self.status(window).await)
    }

    /// The embedded server's URL and key, starting (or reusing) it on first use.
    pub(crate) async fn ensure_local(&self, session_only: bool) -> Result<(String, PublishableKey), CommandError> {
        let mut slot = self.embedded.lock().await;
        if let Some(e) = slot.as_ref() {
            return Ok((e.url.clone(), e.key.clone()));
        }
        let url = crate::embedded::local_url(self.config.local_port);
        let key = self.local_secret(&url, session_only, new_local_key).await?;
        let secret = self.local_secret(&resume_secret_account(&url), session_only, new_resume_secret).await?;
        let embedded = Embedded::start_or_reuse(self.config.local_port, &key, secret.expose().as_bytes())
            .await
            .map_err(|e| AppProblem::LocalServer.error(e.to_string()))?;
        *slot = Some(embedded);
        Ok((url, key))
    }

    /// A secret of the local server kept under `account` (the keyring, or this session
    /// only), made by `new` on first use.
    async fn local_secret(
        &self,
        account: &str,
        session_only: bool,
        new: fn() -> PublishableKey,
    ) -> Result<PublishableKey, CommandError> {
        match self.vault.get(account).await {
            Ok(Some((k, _))) => Ok(k),
            Ok(None) | Err(_) if session_only => {
                let k = new();
                self.vault.save_for_session(account, k.clone());
                Ok(k)
            }
            Ok(None) => {
                let k = new();
                self.vault.save(account, k.clone()).await?;
                tracing::info!(secret = %k, account, "provisioned a secret for the local server");
                Ok(k)
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// A fresh random key for the local server.
fn new_local_key() -> PublishableKey {
    let mut b = [0u8; 16];
    rand::rng().fill_bytes(&mut b);
    PublishableKey::new(format!("pk_local_{}", b.iter().map(|x| format!("{x:02x}")).collect::<String>()))
}

/// The keyring account of the local server's resume-token secret, beside its key's.
fn resume_secret_account(url: &str) -> String {
    format!("{url}#resume-secret")
}

/// A fresh random resume-token secret (32 bytes, hex), kept like a key.
fn new_resume_secret() -> PublishableKey {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    PublishableKey::new(b.iter().map(|x| format!("{x:02x}")).collect::<String>())
}
