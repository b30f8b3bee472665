//! The receiver's file system work: free space, a new partial file under a name nothing
//! else has, and giving it its final name without ever replacing an existing file.

use std::path::{Path, PathBuf};

use peerchat_files::name::{self, PART_SUFFIX};
use peerchat_files::TransferError;

/// Space left free on the disk beyond the file itself.
const MARGIN: u64 = 64 << 20;

/// Bytes free for this user on the file system of `dir`.
pub(crate) fn free_space(dir: &Path) -> std::io::Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "a folder name with a NUL byte"))?;
    // SAFETY: `c` is a valid NUL-terminated path and `st` a properly sized out-parameter
    // that statvfs fills on success; nothing is read from it on failure.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
}

/// A partial file for `cleaned` in `dir`: `(final path, partial path, open file)`.
/// Neither path existed; the partial file is created here (never opened if it exists).
pub(crate) async fn create_part(
    dir: &Path,
    cleaned: &str,
    size: u64,
) -> Result<(PathBuf, PathBuf, tokio::fs::File), TransferError> {
    let io = |e: std::io::Error| TransferError::Io(format!("{}: {e}", dir.display()));
    tokio::fs::create_dir_all(dir).await.map_err(io)?;
    let free = free_space(dir).map_err(io)?;
    if free < size.saturating_add(MARGIN) {
        return Err(TransferError::NoSpace { need: size, free });
    }
    for _ in 0..3 {
        let chosen = name::unique(cleaned, |n| dir.join(n).exists())
            .ok_or_else(|| TransferError::Io(format!("no free name for {cleaned} in {}", dir.display())))?;
        let (fin, part) = (dir.join(&chosen), dir.join(format!("{chosen}{PART_SUFFIX}")));
        let opened = tokio::fs::OpenOptions::new().write(true).create_new(true).open(&part).await;
        match opened {
            Ok(f) => return Ok((fin, part, f)),
            // Taken between the check and the open: choose again.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io(e)),
        }
    }
    Err(TransferError::Io(format!("{}: names kept being taken", dir.display())))
}

/// Gives the verified partial file its final name; if something took that name
/// meanwhile, the next free one for `cleaned` (the offered name, made safe). Never
/// replaces a file. Returns the final path.
pub(crate) async fn finish(part: &Path, wanted: &Path, cleaned: &str) -> std::io::Result<PathBuf> {
    let dir = wanted.parent().unwrap_or(Path::new("."));
    let base = cleaned;
    let mut target = wanted.to_path_buf();
    for _ in 0..3 {
        // A hard link fails if the target exists, where a rename would replace it.
        match tokio::fs::hard_link(part, &target).await {
            Ok(()) => {
                tokio::fs::remove_file(part).await?;
                return Ok(target);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let part_name = part.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                let next = name::unique(base, |n| dir.join(n).exists() && n != part_name)
                    .ok_or_else(|| std::io::Error::other("no free name"))?;
                target = dir.join(next);
            }
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other("names kept being taken"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_new_part_never_reuses_a_name_and_finishing_never_replaces_a_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.txt"), b"mine").unwrap();
        let (fin, part, _f) = create_part(dir.path(), "a.txt", 3).await.unwrap();
        assert_eq!(fin, dir.path().join("a (1).txt"));
        assert_eq!(part, dir.path().join("a (1).txt.part"));
        std::fs::write(&part, b"new").unwrap();
        // Someone takes the final name before the transfer ends.
        std::fs::write(&fin, b"theirs").unwrap();
        let got = finish(&part, &fin, "a.txt").await.unwrap();
        assert_eq!(got, dir.path().join("a (2).txt"));
        assert_eq!(std::fs::read(&got).unwrap(), b"new");
        assert_eq!(std::fs::read(&fin).unwrap(), b"theirs");
        assert_eq!(std::fs::read(dir.path().join("a.txt")).unwrap(), b"mine");
        assert!(!part.exists());
    }

    #[tokio::test]
    async fn a_file_larger_than_the_free_space_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let free = free_space(dir.path()).unwrap();
        let e = create_part(dir.path(), "big", free).await.unwrap_err();
        assert!(matches!(e, TransferError::NoSpace { .. }), "{e:?}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "nothing was created");
    }
}
