//! ICE servers and their secrets. `settings.json` keeps each TURN server's URLs and user
//! name; its credential lives in the keyring (or, with no keyring, in memory for this
//! run), under the account `turn:USER@URL`. A settings change moves any credential typed
//! into the keyring before the settings are saved; a join puts the credentials back into
//! the ICE servers it hands the SDK.

use peerchat_peer::{IceServer, PublishableKey};

use super::Backend;
use crate::error::{AppProblem, CommandError};
use crate::settings::Settings;

/// The keyring account of a TURN server's credential.
fn account(s: &IceServer) -> Option<String> {
    let user = s.username.as_deref()?;
    let url = s.urls.first()?;
    (url.starts_with("turn:") || url.starts_with("turns:")).then(|| format!("turn:{user}@{url}"))
}

impl Backend {
    /// Saves settings from the UI: TURN credentials go to the keyring (session-only when
    /// it is unavailable and `session_only`), the rest to `settings.json`. A TURN server
    /// given without a credential keeps the one already stored.
    pub async fn save_settings(&self, mut new: Settings) -> Result<Settings, CommandError> {
        new.validate()?;
        for s in &mut new.ice_servers {
            let (Some(acc), Some(cred)) = (account(s), s.credential.take()) else { continue };
            // The vault's secret type is the redacting PublishableKey: it never prints.
            self.vault.save(&acc, PublishableKey::new(cred)).await?;
        }
        self.set_settings(new)
    }

    /// The ICE servers a join uses: the settings' servers with their TURN credentials
    /// from the keyring. A TURN server whose credential is nowhere is an error the person
    /// can act on (type it again in the settings).
    pub(super) async fn ice_servers(&self) -> Result<Vec<IceServer>, CommandError> {
        let mut servers = self.settings().ice_servers.clone();
        for s in &mut servers {
            let Some(acc) = account(s) else { continue };
            if s.credential.is_some() {
                continue;
            }
            match self.vault.get(&acc).await? {
                Some((cred, _)) => s.credential = Some(cred.expose().to_string()),
                None => {
                    return Err(AppProblem::TurnCredentialMissing.error(format!(
                        "no credential is stored for the TURN server {}; enter it in the settings",
                        s.urls[0]
                    )))
                }
            }
        }
        Ok(servers)
    }
}
