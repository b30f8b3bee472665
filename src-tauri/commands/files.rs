//! File commands: send a file (to one person, or everyone in the room), and accept,
//! decline or cancel a transfer. Progress and results arrive as chat events. Files
//! dropped on a window are sent from `lib.rs` (the window's drag-and-drop event).

use peerchat_chat::FileSent;
use peerchat_desktop::error::CommandError;

use super::BackendState;

#[tauri::command]
pub async fn send_file(
    window: tauri::WebviewWindow,
    backend: BackendState<'_>,
    path: String,
    to: Option<String>,
) -> Result<Vec<FileSent>, CommandError> {
    backend.send_file(window.label(), &path, to.as_deref()).await
}

#[tauri::command]
pub async fn accept_file(
    window: tauri::WebviewWindow,
    backend: BackendState<'_>,
    id: String,
) -> Result<(), CommandError> {
    backend.accept_file(window.label(), &id).await
}

#[tauri::command]
pub async fn decline_file(
    window: tauri::WebviewWindow,
    backend: BackendState<'_>,
    id: String,
) -> Result<(), CommandError> {
    backend.decline_file(window.label(), &id).await
}

#[tauri::command]
pub async fn cancel_file(
    window: tauri::WebviewWindow,
    backend: BackendState<'_>,
    id: String,
) -> Result<(), CommandError> {
    backend.cancel_file(window.label(), &id).await
}
