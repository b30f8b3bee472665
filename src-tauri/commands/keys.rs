//! Key commands: status, save, check, forget, use the local server.

use super::BackendState;
use peerchat_desktop::backend::AppStatus;
use peerchat_desktop::error::CommandError;

#[tauri::command]
pub async fn app_status(window: tauri::WebviewWindow, backend: BackendState<'_>) -> Result<AppStatus, CommandError> {
    Ok(backend.status(window.label()).await)
}

#[tauri::command]
pub async fn save_key(
    window: tauri::WebviewWindow,
    backend: BackendState<'_>,
    server_url: String,
    key: String,
    session_only: bool,
) -> Result<AppStatus, CommandError> {
    backend.save_key(window.label(), &server_url, &key, session_only).await
}

#[tauri::command]
pub async fn check_key(
    backend: BackendState<'_>,
    server_url: Option<String>,
    key: Option<String>,
) -> Result<(), CommandError> {
    backend.check_key(server_url.as_deref(), key.as_deref()).await
}

#[tauri::command]
pub async fn forget_key(window: tauri::WebviewWindow, backend: BackendState<'_>) -> Result<AppStatus, CommandError> {
    backend.forget_key(window.label()).await
}

#[tauri::command]
pub async fn use_local_server(
    window: tauri::WebviewWindow,
    backend: BackendState<'_>,
    session_only: bool,
) -> Result<AppStatus, CommandError> {
    backend.use_local_server(window.label(), session_only).await
}
