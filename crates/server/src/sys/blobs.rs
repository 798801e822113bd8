//! Content-addressed files: the couriers' photos (`DATA_DIR/photos`) and the published app
//! builds (`DATA_DIR/releases`), each file kept once under its SHA-256 in hex.
//!
//! The directory is private to the server's user (0700, files 0600). A file is written whole
//! under a temporary name, flushed to the disk, then renamed to its SHA-256 and the directory
//! flushed too, so a crash never leaves half a file under a name that says it is complete.
//! Photos and builds are two directories of this one kind because they leave at different
//! times: photos are evidence, builds go when the fleet deletes a withdrawn release.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::secrets::{create_private_dir, create_private_file, random_bytes};

/// One content-addressed directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blobs {
    dir: PathBuf,
}

impl Blobs {
    /// The directory `dir` (created when the first file is written).
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the file with this SHA-256 (hex, as the caller checked it) is or would be.
    pub fn path(&self, sha256: &str) -> PathBuf {
        self.dir.join(sha256)
    }

    /// Whether the file with this SHA-256 is here.
    pub fn contains(&self, sha256: &str) -> bool {
        self.path(sha256).is_file()
    }

    /// A new private temporary file in the directory, to write a file into before
    /// [`Self::place`]; its path and the open file.
    pub fn temp(&self) -> std::io::Result<(PathBuf, File)> {
        create_private_dir(&self.dir)?;
        let path = self
            .dir
            .join(format!(".tmp-{}", hex::encode(random_bytes::<12>())));
        let file = create_private_file(&path)?;
        Ok((path, file))
    }

    /// Keeps `bytes` under `sha256`, which the caller checked is theirs; nothing to do when
    /// the file is already here.
    pub fn put(&self, sha256: &str, bytes: &[u8]) -> std::io::Result<()> {
        if self.contains(sha256) {
            return Ok(());
        }
        let (tmp, mut file) = self.temp()?;
        let written = file.write_all(bytes).and_then(|()| file.sync_all());
        drop(file);
        match written {
            Ok(()) => self.place(&tmp, sha256),
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                Err(e)
            }
        }
    }

    /// Gives the fully written and flushed temporary file `tmp` (from [`Self::temp`]) its
    /// name, `sha256`; the same content kept before stays, once.
    pub fn place(&self, tmp: &Path, sha256: &str) -> std::io::Result<()> {
        let target = self.path(sha256);
        if target.exists() {
            return std::fs::remove_file(tmp);
        }
        std::fs::rename(tmp, &target)?;
        // The rename is only durable once the directory is.
        File::open(&self.dir)?.sync_all()
    }

    /// Copies the file `src` in, streamed and hashed on the way; its SHA-256 and size.
    pub fn copy_in(&self, src: &Path) -> std::io::Result<(String, u64)> {
        let mut input = File::open(src)?;
        let (tmp, mut out) = self.temp()?;
        let copied = (|| {
            let mut hash = Sha256::new();
            let mut size = 0u64;
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = input.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                hash.update(&buf[..n]);
                out.write_all(&buf[..n])?;
                size += n as u64;
            }
            out.sync_all()?;
            Ok::<_, std::io::Error>((hex::encode(hash.finalize()), size))
        })();
        drop(out);
        match copied {
            Ok((sha, size)) => {
                self.place(&tmp, &sha)?;
                Ok((sha, size))
            }
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                Err(e)
            }
        }
    }

    /// Removes the file with this SHA-256; nothing to do when it is not here.
    pub fn remove(&self, sha256: &str) -> std::io::Result<()> {
        match std::fs::remove_file(self.path(sha256)) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_kept_once_under_its_hash_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::new(dir.path().join("photos"));
        let sha = hex::encode(Sha256::digest(b"a photo"));
        assert!(!blobs.contains(&sha));
        blobs.put(&sha, b"a photo").unwrap();
        blobs.put(&sha, b"a photo").unwrap();
        assert_eq!(std::fs::read(blobs.path(&sha)).unwrap(), b"a photo");
        let names: Vec<_> = std::fs::read_dir(blobs.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            names,
            vec![std::ffi::OsString::from(&sha)],
            "no temporary file left"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(blobs.dir()), 0o700);
            assert_eq!(mode(&blobs.path(&sha)), 0o600);
        }
        blobs.remove(&sha).unwrap();
        blobs.remove(&sha).unwrap();
        assert!(!blobs.contains(&sha));
    }

    #[test]
    fn a_copied_file_is_named_by_its_hash() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("build.apk");
        std::fs::write(&src, vec![7u8; 200_000]).unwrap();
        let blobs = Blobs::new(dir.path().join("releases"));
        let (sha, size) = blobs.copy_in(&src).unwrap();
        assert_eq!(size, 200_000);
        assert_eq!(sha, hex::encode(Sha256::digest(vec![7u8; 200_000])));
        assert_eq!(std::fs::read(blobs.path(&sha)).unwrap().len(), 200_000);
        assert_eq!(
            blobs.copy_in(&src).unwrap().0,
            sha,
            "the same build kept once"
        );
        assert_eq!(std::fs::read_dir(blobs.dir()).unwrap().count(), 1);
    }
}
