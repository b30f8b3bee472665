//! Declares the app's commands, so `allow-<command>` permissions exist and capabilities
//! (in `src-tauri/capabilities/`) govern each one.

const COMMANDS: &[&str] = &[
    "app_status",
    "save_key",
    "check_key",
    "forget_key",
    "use_local_server",
    "join",
    "leave",
    "send_message",
    "typing",
    "peer_path",
    "peer_security",
    "verify_peer",
    "unverify_peer",
    "send_file",
    "accept_file",
    "decline_file",
    "cancel_file",
    "history_page",
    "clear_history",
    "line_waiting",
    "get_settings",
    "set_settings",
    "open_chat_window",
    "close_window",
];

fn main() {
    println!("cargo:rerun-if-changed=src-tauri/capabilities");
    let attrs = tauri_build::Attributes::new()
        .capabilities_path_pattern("./src-tauri/capabilities/**/*")
        .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    if let Err(e) = tauri_build::try_build(attrs) {
        panic!("tauri-build failed: {e:#}");
    }
}
