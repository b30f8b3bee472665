//! History commands: a page of the window's room from before its session, clearing the
//! room's history, and whom one of our lines still waits for.

use super::BackendState;
use peerchat_desktop::backend::HistoryPage;
use peerchat_desktop::error::CommandError;

#[tauri::command]
pub async fn history_page(
    window: tauri::WebviewWindow,
    backend: BackendState<'_>,
    before: Option<String>,
) -> Result<HistoryPage, CommandError> {
    backend.history_page(window.label(), before.as_deref()).await
}

#[tauri::command]
pub async fn clear_history(window: tauri::WebviewWindow, backend: BackendState<'_>) -> Result<usize, CommandError> {
    backend.clear_history(window.label()).await
}

#[tauri::command]
pub async fn line_waiting(
    window: tauri::WebviewWindow,
    backend: BackendState<'_>,
    id: String,
) -> Result<Vec<String>, CommandError> {
    backend.line_waiting(window.label(), &id).await
}
