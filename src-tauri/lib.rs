//! peerchat's desktop app: a thin Tauri shell over the library crates. The backend
//! ([`peerchat_desktop::backend::Backend`], in `crates/desktop`, no Tauri there) owns
//! settings, keys (OS keyring), the embedded signalling server and one chat session per
//! window; [`commands`] expose it to the UI, whose chat events arrive over a Tauri
//! `Channel`. This crate holds the commands, the windows, the capabilities and `run()`.

pub mod commands;

use std::sync::Arc;
use std::time::Duration;

use tauri::{Manager, RunEvent, WindowEvent};

use peerchat_desktop::backend::{Backend, BackendConfig};
use peerchat_desktop::{embedded, keystore, logging};

/// Command-line options of the app.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LaunchOptions {
    /// Chat windows to open at start (1–4).
    pub windows: usize,
    /// Join this room in every window at start.
    pub room: Option<String>,
}

impl LaunchOptions {
    /// Parses `--windows N` and `--room ROOM`.
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<LaunchOptions, String> {
        let mut o = LaunchOptions { windows: 1, room: None };
        let mut it = args.into_iter();
        while let Some(a) = it.next() {
            match a.as_str() {
                "--windows" => {
                    let v = it.next().ok_or("--windows needs a number")?;
                    o.windows = v.parse().ok().filter(|n| (1..=4).contains(n)).ok_or("--windows takes 1 to 4")?;
                }
                "--room" => o.room = Some(it.next().ok_or("--room needs a room name")?),
                "-h" | "--help" => return Err("usage: peerchat [--windows N] [--room ROOM]".into()),
                other => {
                    return Err(format!("unknown argument `{other}`; usage: peerchat [--windows N] [--room ROOM]"))
                }
            }
        }
        Ok(o)
    }
}

/// Starts the app; returns when the last window closed.
pub fn run() {
    let launch = match LaunchOptions::parse(std::env::args().skip(1)) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("peerchat: {e}");
            std::process::exit(2);
        }
    };
    let app = tauri::Builder::default()
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_notification::init())
        // Each window's size and position, as the person left them.
        .plugin(tauri_plugin_window_state::Builder::default().build())
        .invoke_handler(tauri::generate_handler![
            commands::keys::app_status,
            commands::keys::save_key,
            commands::keys::check_key,
            commands::keys::forget_key,
            commands::keys::use_local_server,
            commands::chat::join,
            commands::chat::leave,
            commands::chat::send_message,
            commands::chat::typing,
            commands::chat::peer_path,
            commands::chat::peer_security,
            commands::chat::verify_peer,
            commands::chat::unverify_peer,
            commands::files::send_file,
            commands::files::accept_file,
            commands::files::decline_file,
            commands::files::cancel_file,
            commands::history::history_page,
            commands::history::clear_history,
            commands::history::line_waiting,
            commands::settings::get_settings,
            commands::settings::set_settings,
            commands::windows::open_chat_window,
            commands::windows::close_window,
        ])
        .setup(move |app| {
            let paths = app.path();
            if let Ok(dir) = paths.app_log_dir() {
                logging::init(&dir, cfg!(debug_assertions));
            }
            let config = BackendConfig {
                settings_path: paths.app_config_dir()?.join("settings.json"),
                data_dir: paths.app_data_dir()?,
                local_port: std::env::var("PEERCHAT_LOCAL_PORT")
                    .ok()
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(embedded::DEFAULT_PORT),
                auto_room: launch.room.clone(),
                // No Downloads folder known (a bare system): one in the home folder.
                downloads: paths.download_dir().or_else(|_| paths.home_dir().map(|h| h.join("Downloads")))?,
            };
            let service = app.config().identifier.clone();
            let backend = Arc::new(Backend::new(config, Arc::new(keystore::OsKeyring::new(service))));
            app.manage(backend);
            tracing::info!(version = env!("CARGO_PKG_VERSION"), windows = launch.windows, "peerchat starting");
            let several = launch.windows > 1;
            commands::windows::create(app.handle(), "main", several.then_some(0))?;
            for i in 1..launch.windows {
                let label = commands::windows::next_label(app.handle());
                commands::windows::create(app.handle(), &label, Some(i as u32))?;
            }
            Ok(())
        })
        .on_window_event(|window, event| match event {
            WindowEvent::Focused(focused) => {
                window.state::<Arc<Backend>>().window_focus(window.label(), *focused);
            }
            WindowEvent::Destroyed => {
                // Kept at once, not only when the app exits (a crash later keeps it).
                use tauri_plugin_window_state::{AppHandleExt, StateFlags};
                if let Err(e) = window.app_handle().save_window_state(StateFlags::all()) {
                    tracing::warn!(error = %e, "the window's size and place could not be kept");
                }
                let backend = window.state::<Arc<Backend>>().inner().clone();
                let label = window.label().to_string();
                tauri::async_runtime::spawn(async move { backend.close_window(&label) });
            }
            // Files dropped on a chat window go to everyone in its room.
            WindowEvent::DragDrop(tauri::DragDropEvent::Drop { paths, .. }) => {
                let backend = window.state::<Arc<Backend>>().inner().clone();
                let label = window.label().to_string();
                let paths: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
                tauri::async_runtime::spawn(async move { backend.send_dropped(&label, &paths).await });
            }
            _ => {}
        })
        .build(tauri::generate_context!());
    let app = match app {
        Ok(a) => a,
        Err(e) => {
            eprintln!("peerchat: cannot start: {e}");
            std::process::exit(1);
        }
    };
    app.run(|handle, event| {
        if let RunEvent::Exit = event {
            let backend = handle.state::<Arc<Backend>>().inner().clone();
            tauri::async_runtime::block_on(async move {
                let _ = tokio::time::timeout(Duration::from_secs(5), backend.shutdown()).await;
            });
        }
    });
}
