//! The few stdin lines that are commands rather than chat: `/safety`, `/verify PEER`,
//! `/unverify PEER`. Any other line, slashes and all, is a chat line.

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
        _ => return false,
    }
    true
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
