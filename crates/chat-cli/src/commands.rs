//! The few stdin lines that are commands rather than chat: `/safety`, `/verify PEER`,
//! `/unverify PEER`, and files: `/send PATH [PEER]`, `/accept ID [DIR]`, `/decline ID`,
//! `/cancel ID`. Any other line, slashes and all, is a chat line.

use peerchat_chat::ChatSession;

use crate::output::Out;

/// Runs `line` if it is a command; false if it is chat.
pub async fn run(session: &ChatSession, out: &Out, line: &str) -> bool {
    let mut words = line.split_whitespace();
    let (cmd, arg) = (words.next(), words.collect::<Vec<_>>().join(" "));
    match (cmd, arg.as_str()) {
        (Some("/safety"), "") => safety(session, out).await,
        (Some("/verify"), peer) if !peer.is_empty() => match find(session, peer).await {
            Some(id) => {
                if let Err(e) = session.verify(&id).await {
                    out.error(e.kind(), &e.to_string());
                }
            }
            None => out.error("unknown_peer", &format!("nobody in the room is called {peer}")),
        },
        (Some("/unverify"), peer) if !peer.is_empty() => match find(session, peer).await {
            Some(id) => {
                if let Err(e) = session.unverify(&id).await {
                    out.error(e.kind(), &e.to_string());
                }
            }
            None => out.error("unknown_peer", &format!("nobody in the room is called {peer}")),
        },
        (Some("/send"), _) => send(session, out, line).await,
        (Some("/accept"), rest) if !rest.is_empty() => {
            let mut parts = rest.splitn(2, ' ');
            let id = parts.next().unwrap_or_default();
            let dir = parts.next().map(std::path::Path::new);
            report(out, session.accept_file(id, dir).await);
        }
        (Some("/decline"), id) if !id.is_empty() => report(out, session.decline_file(id).await),
        (Some("/cancel"), id) if !id.is_empty() => report(out, session.cancel_file(id).await),
        _ => return false,
    }
    true
}

/// `/send PATH [PEER]`: PATH is everything after `/send ` up to a last word that names a
/// peer in the room (an id or a name), so paths may contain spaces.
async fn send(session: &ChatSession, out: &Out, line: &str) {
    let rest = line.trim_start().strip_prefix("/send").unwrap_or("").trim();
    if rest.is_empty() {
        return out.error("invalid_input", "usage: /send PATH [PEER]");
    }
    let (path, to) = match rest.rsplit_once(' ') {
        Some((p, who)) if !std::path::Path::new(rest).exists() => match find(session, who).await {
            Some(id) => (p.trim(), Some(id)),
            None => (rest, None),
        },
        _ => (rest, None),
    };
    match session.send_file(std::path::Path::new(path), to.as_deref()).await {
        // Each transfer is announced by the session (`file-sending`).
        Ok(_) => {}
        Err(e) => out.error(e.kind(), &e.to_string()),
    }
}

fn report(out: &Out, result: Result<(), peerchat_chat::ChatError>) {
    if let Err(e) = result {
        out.error(e.kind(), &e.to_string());
    }
}

/// Prints a `security` event for every peer whose number is known.
async fn safety(session: &ChatSession, out: &Out) {
    let views: Vec<_> = session.peer().remotes().await.iter().filter_map(|r| session.security(r.id())).collect();
    if views.is_empty() {
        out.error("no_safety_number", "no safety number yet: wait until a peer is connected");
    }
    for v in views {
        out.event(&peerchat_chat::ChatEvent::Security(v));
    }
}

/// The id of the peer called `who` (an id, or a name if exactly one has it).
async fn find(session: &ChatSession, who: &str) -> Option<String> {
    let remotes = session.peer().remotes().await;
    if let Some(r) = remotes.iter().find(|r| r.id() == who) {
        return Some(r.id().to_string());
    }
    let named: Vec<_> = remotes.iter().filter(|r| session.security(r.id()).is_some_and(|v| v.name == who)).collect();
    match named.as_slice() {
        [one] => Some(one.id().to_string()),
        _ => None,
    }
}
