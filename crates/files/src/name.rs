//! Safe names for offered files: whatever the sender put in `name`, what is written is
//! one plain file name inside the target folder (no path, no control or bidi characters,
//! no name Windows reserves, at most [`MAX_NAME_BYTES`]), and never an existing file's.

/// Most bytes of a cleaned name (what common file systems allow).
pub const MAX_NAME_BYTES: usize = 255;
/// Suffix of a file still being received.
pub const PART_SUFFIX: &str = ".part";
/// Bytes kept free for ` (9999)` and [`PART_SUFFIX`].
const ROOM_FOR_SUFFIXES: usize = 16;
/// Names tried before giving up on finding a free one.
const MAX_TRIES: u32 = 10_000;

/// The offered name made safe: its last path component, without control, bidi-override
/// or reserved characters, without leading dots or spaces (nothing hidden, no `..`),
/// not a reserved device name, bounded; `file` when nothing is left.
pub fn clean(offered: &str) -> String {
    let last = offered.rsplit(['/', '\\']).find(|s| !s.trim().is_empty()).unwrap_or("");
    let kept: String = last.chars().filter(|c| !is_unsafe(*c)).collect();
    let trimmed = kept.trim_start_matches(|c: char| c == '.' || c.is_whitespace());
    let trimmed = trimmed.trim_end_matches(|c: char| c == '.' || c.is_whitespace());
    let mut name = if trimmed.is_empty() { "file".to_string() } else { trimmed.to_string() };
    if is_reserved(&name) {
        name.insert(0, '_');
    }
    let bounded = bound(&name, MAX_NAME_BYTES - ROOM_FOR_SUFFIXES);
    // A cut can leave a space or a dot at the end.
    let end = bounded.trim_end_matches(|c: char| c == '.' || c.is_whitespace());
    if end.is_empty() {
        "file".to_string()
    } else {
        end.to_string()
    }
}

/// The first of `name`, `stem (1).ext`, `stem (2).ext`, … for which neither the name nor
/// the name with [`PART_SUFFIX`] is `taken`; `None` after [`MAX_TRIES`].
pub fn unique(name: &str, mut taken: impl FnMut(&str) -> bool) -> Option<String> {
    let (stem, ext) = split_ext(name);
    for n in 0..MAX_TRIES {
        let candidate = if n == 0 { name.to_string() } else { format!("{stem} ({n}){ext}") };
        if !taken(&candidate) && !taken(&format!("{candidate}{PART_SUFFIX}")) {
            return Some(candidate);
        }
    }
    None
}

fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '<' | '>' | ':' | '"' | '|' | '?' | '*')
        // Bidi overrides and isolates, and marks: they make `exe.txt` read as `txt.exe`.
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn is_reserved(name: &str) -> bool {
    let stem = name.split('.').next().unwrap_or("").trim_end().to_ascii_uppercase();
    matches!(stem.as_str(), "CON" | "PRN" | "AUX" | "NUL")
        || ((stem.starts_with("COM") || stem.starts_with("LPT"))
            && stem.len() == 4
            && stem.as_bytes()[3].is_ascii_digit())
}

/// `(stem, ".ext")`; a name without a dot (or only a leading one) has no extension.
fn split_ext(name: &str) -> (&str, &str) {
    match name.rfind('.') {
        Some(i) if i > 0 && i < name.len() - 1 && name.len() - i <= 16 => (&name[..i], &name[i..]),
        _ => (name, ""),
    }
}

/// At most `max` bytes, keeping the extension and whole characters.
fn bound(name: &str, max: usize) -> String {
    if name.len() <= max {
        return name.to_string();
    }
    let (stem, ext) = split_ext(name);
    let mut end = max.saturating_sub(ext.len());
    while !stem.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{ext}", &stem[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn paths_are_cut_to_their_last_component() {
        assert_eq!(clean("../../x"), "x");
        assert_eq!(clean("/etc/passwd"), "passwd");
        assert_eq!(clean("..\\..\\Windows\\win.ini"), "win.ini");
        assert_eq!(clean("dir/"), "dir");
        assert_eq!(clean(".."), "file");
        assert_eq!(clean("../.."), "file");
        assert_eq!(clean(""), "file");
    }

    #[test]
    fn control_bidi_and_reserved_characters_go() {
        assert_eq!(clean("a\u{0}b\nc.txt"), "abc.txt");
        assert_eq!(clean("invoice\u{202e}fdp.exe"), "invoicefdp.exe");
        assert_eq!(clean("what?<is>:this|\"*.txt"), "whatisthis.txt");
        assert_eq!(clean("  .hidden  "), "hidden");
        assert_eq!(clean("name. . "), "name");
    }

    #[test]
    fn reserved_device_names_are_prefixed() {
        assert_eq!(clean("CON"), "_CON");
        assert_eq!(clean("nul.txt"), "_nul.txt");
        assert_eq!(clean("com1.log"), "_com1.log");
        assert_eq!(clean("console.txt"), "console.txt");
        assert_eq!(clean("COM10"), "COM10");
    }

    #[test]
    fn long_names_keep_their_extension_and_whole_characters() {
        let n = clean(&format!("{}.pdf", "é".repeat(400)));
        assert!(n.len() <= MAX_NAME_BYTES - ROOM_FOR_SUFFIXES);
        assert!(n.ends_with(".pdf") && n.trim_end_matches(".pdf").chars().all(|c| c == 'é'));
    }

    #[test]
    fn existing_files_and_parts_are_never_reused() {
        let taken = ["a.txt", "a (1).txt.part", "b"];
        let free = |n: &str| taken.contains(&n);
        assert_eq!(unique("a.txt", free).as_deref(), Some("a (2).txt"));
        assert_eq!(unique("b", free).as_deref(), Some("b (1)"));
        assert_eq!(unique("c.tar.gz", free).as_deref(), Some("c.tar.gz"));
        assert_eq!(unique("x", |_| true), None);
    }

    proptest! {
        #[test]
        fn any_offered_name_becomes_one_plain_bounded_name(offered in "\\PC{0,600}") {
            let n = clean(&offered);
            prop_assert!(!n.is_empty() && n.len() <= MAX_NAME_BYTES);
            prop_assert!(!n.contains(['/', '\\', '\0']) && !n.chars().any(char::is_control));
            prop_assert!(!n.starts_with('.') && n != "..");
            prop_assert_eq!(clean(&n), n.clone(), "cleaning is idempotent");
        }
    }
}
