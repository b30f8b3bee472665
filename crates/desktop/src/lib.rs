//! The desktop app's logic, without Tauri: settings, keys in the OS keyring, the
//! embedded signalling server, the app's DTLS certificate and verified peers, and one
//! chat session per window ([`backend::Backend`]), and when to notify the person
//! ([`notices`]). The Tauri crate (`src-tauri/`) is a thin shell of commands and windows
//! over this; the backend tests call it directly and link no webview.

pub mod backend;
pub mod embedded;
pub mod error;
pub mod keystore;
pub mod logging;
pub mod notices;
pub mod settings;
