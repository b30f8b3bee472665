//! The app's command layer, called directly (no webview): each module is one behaviour.
//! Real signalling servers on loopback, real WebRTC between "windows".

mod support;

mod auto_join_names_do_not_stack;
mod bad_input_gets_typed_errors;
mod embedded_server_is_loopback_only;
mod history_and_outbox_survive_restarts;
mod key_commands;
mod keyring_unavailable_offers_session_keys;
mod local_server_cannot_be_impersonated;
mod os_keyring_keeps_the_key;
mod plaintext_beyond_this_machine_needs_consent;
mod second_process_reuses_the_local_server;
mod turn_credentials_stay_in_the_keyring;
mod two_apps_chat_across_nats;
mod two_windows_chat_peer_to_peer;
