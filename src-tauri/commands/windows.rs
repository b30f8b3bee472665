//! Opening chat windows. Each window is its own peer; labels are `main`, `chat-2`,
//! `chat-3`, … (the capability file grants `main` and `chat-*`).

use std::sync::atomic::{AtomicU32, Ordering};

use tauri::{AppHandle, Manager, Runtime, WebviewUrl, WebviewWindowBuilder};

use peerchat_desktop::error::{AppProblem, CommandError};

/// Most chat windows open at once.
pub const MAX_WINDOWS: usize = 16;

static NEXT: AtomicU32 = AtomicU32::new(2);

/// Opens one chat window with the given label; `slot` places the windows opened at
/// start side by side (the window manager places the others).
pub fn create<R: Runtime>(app: &AppHandle<R>, label: &str, slot: Option<u32>) -> Result<(), CommandError> {
    room_for_one_more(app.webview_windows().len())?;
    let mut b = WebviewWindowBuilder::new(app, label, WebviewUrl::App("index.html".into()));
    if let Some(i) = slot {
        b = b.position(20.0 + 480.0 * f64::from(i), 40.0);
    }
    b.title("peerchat")
        // The page's title (with its unread count) is the window's.
        .on_document_title_changed(|w, title| {
            let _ = w.set_title(&title);
        })
        .inner_size(460.0, 680.0)
        .min_inner_size(360.0, 420.0)
        .build()
        .map(|_| ())
        .map_err(|e| AppProblem::WindowFailed.error(e.to_string()))
}

/// Refuses a new window when `open` windows are already open.
fn room_for_one_more(open: usize) -> Result<(), CommandError> {
    if open >= MAX_WINDOWS {
        return Err(AppProblem::TooManyWindows.error(format!("at most {MAX_WINDOWS} chat windows")));
    }
    Ok(())
}

/// The next free `chat-N` label.
pub fn next_label<R: Runtime>(app: &AppHandle<R>) -> String {
    loop {
        let label = format!("chat-{}", NEXT.fetch_add(1, Ordering::Relaxed));
        if app.get_webview_window(&label).is_none() {
            return label;
        }
    }
}

/// Async: creating a window from a synchronous command can deadlock.
#[tauri::command]
pub async fn open_chat_window<R: Runtime>(app: AppHandle<R>) -> Result<String, CommandError> {
    let label = next_label(&app);
    create(&app, &label, None)?;
    Ok(label)
}

/// Closes the calling window (Ctrl+W in the UI), as the window manager's close button
/// does: its session leaves first (see `lib.rs`).
#[tauri::command]
pub async fn close_window<R: Runtime>(window: tauri::WebviewWindow<R>) -> Result<(), CommandError> {
    window.close().map_err(|e| AppProblem::WindowFailed.error(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_most_max_windows_are_open() {
        assert!(room_for_one_more(MAX_WINDOWS - 1).is_ok());
        let err = room_for_one_more(MAX_WINDOWS).unwrap_err();
        assert_eq!(err.kind, "too_many_windows");
    }
}
