//! Chat commands: join (events stream back over a Tauri `Channel`; lines that arrive in
//! a window without focus are also desktop notifications), send, leave, and
//! a peer's details view: its path, its safety number, marking it verified.

use std::sync::Arc;

use peerchat_chat::{ChatEvent, SecurityView};
use tauri::ipc::Channel;
use tauri::Manager;

use super::BackendState;
use peerchat_desktop::backend::{JoinInfo, PathView};
use peerchat_desktop::error::CommandError;

#[tauri::command]
pub async fn join(
    window: tauri::WebviewWindow,
    backend: BackendState<'_>,
    room: String,
    name: String,
    on_event: Channel<ChatEvent>,
) -> Result<JoinInfo, CommandError> {
    let (me, label, app) = (backend.inner().clone(), window.label().to_string(), window.app_handle().clone());
    let sink = Arc::new(move |ev: ChatEvent| {
        if let Some(n) = me.notice_for(&label, &ev) {
            notify(&app, n);
        }
        on_event.send(ev).is_ok()
    });
    backend.inner().join(window.label(), &room, &name, sink).await
}

/// Shows a desktop notification (a failure, such as no notification service on the
/// session bus, is logged: the line is in the window all the same).
fn notify(app: &tauri::AppHandle, n: peerchat_desktop::notices::Notice) {
    use tauri_plugin_notification::NotificationExt;
    if let Err(e) = app.notification().builder().title(n.title).body(n.body).show() {
        tracing::warn!(error = %e, "the desktop notification could not be shown");
    }
}

#[tauri::command]
pub async fn leave(window: tauri::WebviewWindow, backend: BackendState<'_>) -> Result<(), CommandError> {
    backend.leave(window.label()).await;
    Ok(())
}

#[tauri::command]
pub async fn send_message(
    window: tauri::WebviewWindow,
    backend: BackendState<'_>,
    text: String,
) -> Result<peerchat_desktop::backend::SentView, CommandError> {
    backend.send_message(window.label(), &text).await
}

#[tauri::command]
pub async fn typing(window: tauri::WebviewWindow, backend: BackendState<'_>) -> Result<bool, CommandError> {
    backend.typing(window.label())
}

#[tauri::command]
pub async fn peer_path(
    window: tauri::WebviewWindow,
    backend: BackendState<'_>,
    peer_id: String,
) -> Result<Option<PathView>, CommandError> {
    backend.peer_path(window.label(), &peer_id).await
}

#[tauri::command]
pub async fn peer_security(
    window: tauri::WebviewWindow,
    backend: BackendState<'_>,
    peer_id: String,
) -> Result<Option<SecurityView>, CommandError> {
    backend.peer_security(window.label(), &peer_id)
}

#[tauri::command]
pub async fn verify_peer(
    window: tauri::WebviewWindow,
    backend: BackendState<'_>,
    peer_id: String,
) -> Result<SecurityView, CommandError> {
    backend.verify_peer(window.label(), &peer_id).await
}

#[tauri::command]
pub async fn unverify_peer(
    window: tauri::WebviewWindow,
    backend: BackendState<'_>,
    peer_id: String,
) -> Result<(), CommandError> {
    backend.unverify_peer(window.label(), &peer_id).await
}
