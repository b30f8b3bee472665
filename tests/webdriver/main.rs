//! The real app, driven through tauri-driver and WebKitWebDriver under Xvfb, with the
//! real Secret Service (gnome-keyring in the test's private D-Bus session). Each module
//! is one scenario; they run one at a time. `scripts/test.sh` provides the display, the
//! keyring and tauri-driver.

mod support;
mod wd;

mod a_file_crosses_a_network_cut_between_windows_verified;
mod a_file_goes_on_after_the_receiving_app_restarts;
mod a_line_in_the_background_is_a_notification;
mod a_receipt_before_its_line_still_marks_it;
mod bad_key_is_explained;
mod closing_a_window_removes_its_peer;
mod every_screen_passes_the_accessibility_check;
mod everything_works_from_the_keyboard;
mod first_run_key_is_kept_in_the_keyring;
mod history_and_a_line_left_for_someone_away;
mod safety_numbers_match_and_verification_is_kept;
mod server_restart_mid_chat;
mod the_path_is_shown_in_words;
mod the_window_size_is_remembered;
mod two_app_processes_chat;
mod two_windows_chat_over_a_datachannel;
mod typing_is_shown_in_the_other_window;
mod ui_cannot_call_what_it_is_not_granted;
