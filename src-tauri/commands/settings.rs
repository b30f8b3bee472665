//! Settings commands: read and change the server URL, display name and ICE servers.

use super::BackendState;
use crate::error::CommandError;
use crate::settings::Settings;

#[tauri::command]
pub fn get_settings(backend: BackendState<'_>) -> Settings {
    backend.get_settings()
}

#[tauri::command]
pub fn set_settings(backend: BackendState<'_>, settings: Settings) -> Result<Settings, CommandError> {
    backend.set_settings(settings)
}
