//! Settings commands: read and change the server URL, display name, ICE servers (their
//! TURN credentials go to the keyring) and connection policies.

use super::BackendState;
use peerchat_desktop::error::CommandError;
use peerchat_desktop::settings::Settings;

#[tauri::command]
pub fn get_settings(backend: BackendState<'_>) -> Settings {
    backend.get_settings()
}

#[tauri::command]
pub async fn set_settings(backend: BackendState<'_>, settings: Settings) -> Result<Settings, CommandError> {
    backend.save_settings(settings).await
}
