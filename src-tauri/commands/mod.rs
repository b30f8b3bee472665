//! The Tauri commands: thin wrappers that call [`crate::backend::Backend`] with the
//! calling window's label. Each is declared in `build.rs`, so capabilities govern it.

pub mod chat;
pub mod keys;
pub mod settings;
pub mod windows;

use std::sync::Arc;

use crate::backend::Backend;

/// The managed backend, as commands receive it.
pub type BackendState<'a> = tauri::State<'a, Arc<Backend>>;
