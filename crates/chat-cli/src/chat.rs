//! chat-cli's loop: stdin lines go to the chat session, its events go to stdout. The
//! reconnect-aware channel pattern itself lives in `peerchat-chat`, shared with the app.

use std::time::Duration;

use peerchat_chat::trust::TrustStore;
use peerchat_chat::{ChatConfig, ChatError, ChatEvent, ChatSession};
use peerchat_peer::{IceTransportPolicy, PeerError, PeerOptions, PublishableKey};
use tokio::io::AsyncBufReadExt;

use crate::output::Out;
use crate::Args;

fn exit_code(e: &ChatError) -> u8 {
    match e {
        ChatError::Peer(PeerError::BadUrl(_) | PeerError::PlaintextRefused(_)) => 2,
        _ => 1,
    }
}

/// The key from `--key-file`, else `--key` or `PEERCHAT_KEY`; a message for the person
/// running it otherwise (never the key itself).
fn key(args: &Args) -> Result<PublishableKey, String> {
    if let Some(path) = &args.key_file {
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("cannot read --key-file {}: {e}", path.display()))?;
        let key = text.lines().next().unwrap_or("").trim();
        if key.is_empty() {
            return Err(format!("--key-file {} holds no key", path.display()));
        }
        return Ok(PublishableKey::new(key));
    }
    match args.key.as_deref().map(str::trim) {
        Some(k) if !k.is_empty() => Ok(PublishableKey::new(k)),
        _ => Err("no publishable key: set PEERCHAT_KEY, or pass --key-file FILE (or --key)".into()),
    }
}

pub async fn run(args: Args) -> Result<(), u8> {
    let out = Out { json: args.json };
    let key = match key(&args) {
        Ok(k) => k,
        Err(msg) => {
            out.error("no_key", &msg);
            eprintln!("chat-cli: {msg}");
            return Err(2);
        }
    };
    let mut opts = PeerOptions::new(args.url.clone(), key);
    opts.tls.allow_plaintext = args.allow_plaintext;
    opts.ice_transport_policy = match args.ice_policy {
        crate::IcePolicy::All => IceTransportPolicy::All,
        crate::IcePolicy::Relay => IceTransportPolicy::Relay,
    };
    if let Some(path) = &args.ca_file {
        match std::fs::read_to_string(path) {
            Ok(pem) => opts.tls.extra_ca_pem = Some(pem),
            Err(e) => {
                let msg = format!("cannot read --ca-file {}: {e}", path.display());
                out.error("bad_ca_file", &msg);
                eprintln!("chat-cli: {msg}");
                return Err(2);
            }
        }
    }
    let mut config = ChatConfig::new(opts, &args.room, &args.name);
    config.server_fallback = args.server_fallback;
    config.files.max_size = args.max_file_size;
    if let Some(dir) = &args.accept_files {
        config.files.download_dir = Some(dir.clone());
        config.files.auto_accept = true;
    }
    if let Some(dir) = &args.state_dir {
        match peerchat_peer::identity::load_or_create(&dir.join("dtls.pem")) {
            Ok((cert, how)) => {
                if let peerchat_peer::identity::Loaded::Replaced { moved_to, reason } = how {
                    eprintln!(
                        "chat-cli: the kept certificate was unreadable ({reason}); moved to {}, a new one is in use",
                        moved_to.display()
                    );
                }
                config.options.certificate = Some(cert);
            }
            Err(e) => {
                out.error("state_dir", &e.to_string());
                eprintln!("chat-cli: {e}");
                return Err(2);
            }
        }
        config.trust = std::sync::Arc::new(TrustStore::open(&dir.join("verified.json")));
        config.files.state_dir = Some(dir.join("transfers"));
    }
    let (session, mut events) = match ChatSession::start(config).await {
        Ok(s) => s,
        Err(e) => {
            let msg = match &e {
                ChatError::Unreachable(_) => format!("{e} ({})", args.url),
                _ => e.to_string(),
            };
            out.error(e.kind(), &msg);
            eprintln!("chat-cli: {msg}");
            return Err(exit_code(&e));
        }
    };
    let mut stdin = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    loop {
        tokio::select! {
            line = stdin.next_line() => match line {
                Ok(Some(text)) => {
                    if crate::commands::run(&session, &out, &text).await {
                        continue;
                    }
                    if let Err(e) = session.send_line(&text) {
                        out.error(e.kind(), &e.to_string());
                    }
                }
                Ok(None) | Err(_) => break,
            },
            ev = events.next() => match ev {
                None => return Err(1),
                Some(ev) => {
                    out.event(&ev);
                    if let ChatEvent::Error { fatal: true, message, .. } = &ev {
                        eprintln!("chat-cli: {message}");
                        return Err(1);
                    }
                }
            },
        }
    }
    // End of input: queued sends finish, then a clean leave (every step bounded). Events
    // that arrive meanwhile are still printed.
    let leave = session.leave();
    tokio::pin!(leave);
    loop {
        tokio::select! {
            _ = &mut leave => break,
            Some(ev) = events.next() => out.event(&ev),
        }
    }
    let _ = tokio::time::timeout(Duration::from_millis(100), async {
        while let Some(ev) = events.next().await {
            out.event(&ev);
        }
    })
    .await;
    Ok(())
}
