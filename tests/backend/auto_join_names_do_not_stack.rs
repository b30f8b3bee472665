//! `--room` gives each window a default name ("ada", "ada 2"); joining with the
//! numbered default does not replace the saved display name, so the next start does not
//! number it again. A name the person typed in an extra window is kept.

use std::sync::Arc;

use peerchat_desktop::backend::{Backend, BackendConfig};
use peerchat_desktop::keystore::MemoryStore;
use peerchat_desktop::settings::Settings;

use crate::support::{free_port, window};

fn backend(dir: &std::path::Path, port: u16) -> Arc<Backend> {
    let config = BackendConfig {
        settings_path: dir.join("settings.json"),
        data_dir: dir.join("data"),
        local_port: port,
        auto_room: Some("lobby".into()),
        downloads: std::env::temp_dir().join("peerchat-test-downloads"),
    };
    Arc::new(Backend::new(config, Arc::new(MemoryStore::default())))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_join_names_do_not_stack() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let b = backend(dir.path(), port);
    b.set_settings(Settings { display_name: "ada".into(), ..Settings::default() }).unwrap();

    for _ in 0..2 {
        // Two starts in a row, each window joining with the name the app offers it.
        for label in ["main", "chat-2"] {
            let auto = b.status(label).await.auto_join.expect("--room given");
            let (_w, sink) = window("x");
            b.join(label, &auto.room, &auto.name, sink).await.unwrap();
        }
        assert_eq!(b.status("chat-2").await.auto_join.unwrap().name, "ada 2");
        assert_eq!(b.get_settings().display_name, "ada");
        b.leave("main").await;
        b.leave("chat-2").await;
    }

    // A name typed in an extra window is the person's choice: it is saved.
    let (_w, sink) = window("x");
    b.join("chat-2", "lobby", "bea", sink).await.unwrap();
    assert_eq!(b.get_settings().display_name, "bea");
    b.shutdown().await;
}
