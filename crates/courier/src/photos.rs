//! Proof photos on the device: recognised by their magic bytes, kept once under their
//! SHA-256 in the data directory's photo folder, written so a crash leaves no half file.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Largest proof photo accepted.
pub const MAX_PHOTO_BYTES: usize = 10 * 1024 * 1024;

/// The image format by its magic bytes; `None` if it is not a photo format.
pub fn photo_extension(bytes: &[u8]) -> Option<&'static str> {
    match bytes {
        [0xFF, 0xD8, 0xFF, ..] => Some("jpg"),
        [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, ..] => Some("png"),
        [
            b'R',
            b'I',
            b'F',
            b'F',
            _,
            _,
            _,
            _,
            b'W',
            b'E',
            b'B',
            b'P',
            ..,
        ] => Some("webp"),
        [
            _,
            _,
            _,
            _,
            b'f',
            b't',
            b'y',
            b'p',
            b'h',
            b'e',
            b'i',
            b'c' | b'f',
            ..,
        ] => Some("heic"),
        _ => None,
    }
}

/// Writes `bytes` once under their SHA-256 in `dir` (tmp file, fsync, rename, fsync the
/// folder) and answers (sha256 hex, path). A photo already there is not written again.
pub(crate) fn write(dir: &Path, bytes: &[u8]) -> std::io::Result<(String, PathBuf)> {
    let sha = hex::encode(Sha256::digest(bytes));
    let target = dir.join(&sha);
    if !target.exists() {
        let tmp = dir.join(format!("{sha}.tmp"));
        let mut file = std::fs::File::create(&tmp)?;
        std::io::Write::write_all(&mut file, bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, &target)?;
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok((sha, target))
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_photo_formats_are_recognised() {
        assert_eq!(
            super::photo_extension(&[0xFF, 0xD8, 0xFF, 0xE0, 0]),
            Some("jpg")
        );
        assert_eq!(
            super::photo_extension(b"\x89PNG\r\n\x1a\n...."),
            Some("png")
        );
        assert_eq!(
            super::photo_extension(b"RIFF\0\0\0\0WEBPVP8 "),
            Some("webp")
        );
        assert_eq!(super::photo_extension(b"%PDF-1.7 not a photo"), None);
        assert_eq!(super::photo_extension(b""), None);
    }

    #[test]
    fn a_photo_is_written_once_under_its_hash() {
        let dir = tempfile::tempdir().unwrap();
        let (sha, path) = super::write(dir.path(), b"\xFF\xD8\xFFphoto").unwrap();
        assert_eq!(path, dir.path().join(&sha));
        assert_eq!(std::fs::read(&path).unwrap(), b"\xFF\xD8\xFFphoto");
        assert_eq!(
            super::write(dir.path(), b"\xFF\xD8\xFFphoto").unwrap().1,
            path
        );
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left"
        );
    }
}
