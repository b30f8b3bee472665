//! The Tauri commands: thin wrappers that call [`peerchat_desktop::backend::Backend`] with the
//! calling window's label. Each is declared in `build.rs`, so capabilities govern it.

pub mod chat;
pub mod files;
pub mod history;
pub mod keys;
pub mod settings;
pub mod windows;

use std::sync::Arc;

use peerchat_desktop::backend::Backend;

/// The managed backend, as commands receive it.
pub type BackendState<'a> = tauri::State<'a, Arc<Backend>>;
