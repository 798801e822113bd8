//! The fleet's release channel, as pure rules: which release a device is offered (staged
//! rollout by a stable hash, pause, withdraw, the minimum version), which versions and
//! minimums may be set, and whether an uploaded file is what its platform installs. The store
//! keeps the rows (`store/releases.rs`); the API and the CLI stream files in and call these.
//!
//! Versions are SemVer (the `semver` crate, as Cargo uses it): `1.10.0` is above `1.9.3` and
//! `1.4.0-rc.1` below `1.4.0`.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use doorstep_protocol::wire::{AppVersionPolicy, Platform};
use semver::Version;
use sha2::{Digest, Sha256};

/// One published release of a platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    /// Its platform.
    pub platform: Platform,
    /// Its version.
    pub version: Version,
    /// SHA-256 (hex) of an uploaded file.
    pub sha256: Option<String>,
    /// Bytes of an uploaded file.
    pub size: Option<u64>,
    /// A store / TestFlight link, for a release without a file.
    pub link: Option<String>,
    /// Share of devices offered it, 0–100.
    pub rollout_percent: u8,
    /// Offered to no device until resumed.
    pub paused: bool,
    /// Offered to no device; the previous release is offered again.
    pub withdrawn: bool,
    /// Unix milliseconds.
    pub published_at: i64,
    /// Who published it.
    pub published_by: String,
}

impl Release {
    /// Where a device gets it: the server's download URL of the file, or the link.
    pub fn url(&self, public_url: &str) -> String {
        match (&self.sha256, &self.link) {
            (Some(sha), _) => file_url(public_url, sha),
            (None, Some(link)) => link.clone(),
            (None, None) => String::new(),
        }
    }

    /// Whether `device` is in this release's rollout (and the release is offered at all).
    pub fn offered_to(&self, device: &str) -> bool {
        !self.paused
            && !self.withdrawn
            && rollout_bucket(self.platform, &self.version, device)
                < u32::from(self.rollout_percent) * 100
    }

    /// Whether a device that is in every rollout is offered it.
    fn offered_at_all(&self) -> bool {
        !self.paused && !self.withdrawn && self.rollout_percent > 0
    }
}

/// The download URL of a stored file.
pub fn file_url(public_url: &str, sha256: &str) -> String {
    format!(
        "{}/v1/releases/files/{sha256}",
        public_url.trim_end_matches('/')
    )
}

/// A device's place in a release's rollout, 0..10,000: the first four bytes of
/// SHA-256(platform, version, device id). Stable for a release, so raising the percentage only
/// adds devices; per release, so the same couriers are not always the first to get a build.
pub fn rollout_bucket(platform: Platform, version: &Version, device: &str) -> u32 {
    let mut h = Sha256::new();
    h.update(b"doorstep rollout v1\0");
    h.update(platform_name(platform).as_bytes());
    h.update(b"\0");
    h.update(version.to_string().as_bytes());
    h.update(b"\0");
    h.update(device.as_bytes());
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]]) % 10_000
}

/// The platform's name on the wire (`android`, `ios`, ...).
pub fn platform_name(p: Platform) -> &'static str {
    p.as_str()
}

/// Parses a platform name.
pub fn parse_platform(s: &str) -> Result<Platform, String> {
    Platform::from_name(s.trim()).ok_or_else(|| {
        let names: Vec<&str> = Platform::ALL.iter().map(|p| p.as_str()).collect();
        format!("unknown platform {:?}: use {}", s.trim(), names.join(", "))
    })
}

/// Parses a release version: SemVer, as `1.4.0` or `1.4.0-rc.1` (no leading `v`).
pub fn parse_version(s: &str) -> Result<Version, String> {
    let s = s.trim();
    if s.len() > 40 {
        return Err("a version has at most 40 characters".into());
    }
    Version::parse(s)
        .map_err(|e| format!("{s:?} is not a SemVer version such as 1.4.0 or 1.4.0-rc.1 ({e})"))
}

/// The release a device is offered, from the platform's releases (any order): the newest
/// whose rollout includes the device and that is neither paused nor withdrawn. When that is
/// below the minimum (the device is outside a newer release's rollout), the oldest release at
/// or above the minimum that is neither paused nor withdrawn: an update the fleet requires is
/// never held back by a staged rollout, and a build paused because it is broken is offered
/// to nobody. With none, a device below the minimum gets no update link and its blocking
/// screen says to ask the fleet.
pub fn offered<'a>(
    releases: &'a [Release],
    minimum: Option<&Version>,
    in_rollout: impl Fn(&Release) -> bool,
) -> Option<&'a Release> {
    let newest = releases
        .iter()
        .filter(|r| in_rollout(r))
        .max_by(|a, b| a.version.cmp(&b.version));
    match minimum {
        Some(min) if newest.is_none_or(|r| r.version < *min) => releases
            .iter()
            .filter(|r| !r.withdrawn && !r.paused && r.version >= *min)
            .min_by(|a, b| a.version.cmp(&b.version)),
        _ => newest,
    }
}

/// The release a device that is in every rollout is offered now (what the fleet page calls
/// current, and what the install QR of a new phone leads to).
pub fn current<'a>(releases: &'a [Release], minimum: Option<&Version>) -> Option<&'a Release> {
    offered(releases, minimum, Release::offered_at_all)
}

/// The release a phone that is not enrolled yet installs: the newest that every device is
/// offered (100 %, not paused, not withdrawn), so a new courier never starts on a canary.
pub fn for_new_device<'a>(
    releases: &'a [Release],
    minimum: Option<&Version>,
) -> Option<&'a Release> {
    offered(releases, minimum, |r| {
        !r.paused && !r.withdrawn && r.rollout_percent == 100
    })
}

/// The policy a device gets in its manifest and sync answers: `None` when the fleet has
/// neither releases nor a minimum for its platform.
pub fn policy_for(
    releases: &[Release],
    minimum: Option<&Version>,
    device: &str,
    public_url: &str,
) -> Option<AppVersionPolicy> {
    let offer = offered(releases, minimum, |r| r.offered_to(device));
    if offer.is_none() && minimum.is_none() {
        return None;
    }
    let min = minimum.cloned().unwrap_or(Version::new(0, 0, 0));
    Some(AppVersionPolicy {
        minimum: min.to_string(),
        latest: offer.map_or_else(|| min.to_string(), |r| r.version.to_string()),
        update_url: offer.map(|r| r.url(public_url)),
        sha256: offer.and_then(|r| r.sha256.clone()),
    })
}

/// A new release's version must be above every release of its platform, withdrawn ones
/// included (a phone may have installed those; a fixed build needs a new version).
pub fn check_new_version(releases: &[Release], version: &Version) -> Result<(), String> {
    match releases.iter().map(|r| &r.version).max() {
        Some(top) if version <= top => Err(format!(
            "version {version} is not above {top}, the newest release of this platform; \
             publish a higher version"
        )),
        _ => Ok(()),
    }
}

/// A minimum must not be above every release that is not withdrawn: phones below it would be
/// told to update with nothing to install.
pub fn check_minimum(releases: &[Release], minimum: &Version) -> Result<(), String> {
    let top = releases
        .iter()
        .filter(|r| !r.withdrawn)
        .map(|r| &r.version)
        .max();
    match top {
        Some(top) if top >= minimum => Ok(()),
        Some(top) => Err(format!(
            "the minimum {minimum} is above {top}, the newest release that is not withdrawn; \
             publish {minimum} or later first"
        )),
        None => Err(format!(
            "the minimum {minimum} is above every release (none is published or all are \
             withdrawn); publish {minimum} or later first"
        )),
    }
}

/// A link release: an `https` URL of at most 2,000 characters, with no user name or
/// password in it.
/// The app stores' hosts a release link may always point to.
pub const STORE_HOSTS: [&str; 3] = ["apps.apple.com", "testflight.apple.com", "play.google.com"];

/// Checks a release link: `https`, no credentials, and its host one of the app stores'
/// ([`STORE_HOSTS`]), the server's own (`own_host`) or one the operator lists (`hosts`), so a
/// leaked token cannot point the fleet's phones at a build on any site.
pub fn check_link(link: &str, own_host: &str, hosts: &[String]) -> Result<String, String> {
    let url = check_link_form(link)?;
    let host = url.host_str().unwrap_or("").to_ascii_lowercase();
    let allowed = STORE_HOSTS.contains(&host.as_str())
        || host.eq_ignore_ascii_case(own_host)
        || hosts.iter().any(|h| h.eq_ignore_ascii_case(&host));
    if !allowed {
        return Err(format!(
            "a release link may point to the App Store, TestFlight, Google Play, this server \
             ({own_host}) or a host the operator lists with --release-link-host, not {host}"
        ));
    }
    Ok(url.to_string())
}

fn check_link_form(link: &str) -> Result<reqwest::Url, String> {
    let link = link.trim();
    if link.len() > 2000 {
        return Err("a link has at most 2000 characters".into());
    }
    let url = reqwest::Url::parse(link).map_err(|e| format!("{link:?} is not a URL ({e})"))?;
    if url.scheme() != "https" || url.host_str().is_none_or(str::is_empty) {
        return Err(format!(
            "a release link must be an https:// address (an App Store, TestFlight or Play \
             link), not {link:?}"
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("a release link must not carry a user name or password".into());
    }
    Ok(url)
}

/// What an uploaded file is, when it is what its platform installs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// An Android package: a zip with `AndroidManifest.xml`.
    Apk,
    /// A Linux AppImage (an ELF executable).
    AppImage,
    /// A Debian package (an `ar` archive).
    Deb,
}

impl FileKind {
    /// The extension of the file's download name.
    pub fn extension(self) -> &'static str {
        match self {
            FileKind::Apk => "apk",
            FileKind::AppImage => "AppImage",
            FileKind::Deb => "deb",
        }
    }

    /// Its media type.
    pub fn content_type(self) -> &'static str {
        match self {
            FileKind::Apk => "application/vnd.android.package-archive",
            FileKind::AppImage => "application/octet-stream",
            FileKind::Deb => "application/vnd.debian.binary-package",
        }
    }
}

/// Checks that the file at `path` is what `platform` installs: an APK for Android; an
/// AppImage or a `.deb` for Linux. iOS, macOS and Windows builds are published as links (an
/// iPhone installs from the App Store or TestFlight, never from a file a server hands out).
pub fn check_file(platform: Platform, path: &Path) -> Result<FileKind, String> {
    let mut f = std::fs::File::open(path).map_err(|e| format!("reading the upload: {e}"))?;
    let mut head = [0u8; 8];
    let n = read_up_to(&mut f, &mut head).map_err(|e| format!("reading the upload: {e}"))?;
    let head = &head[..n];
    match platform {
        Platform::Android => {
            if !head.starts_with(b"PK\x03\x04") {
                return Err(
                    "an Android release must be an APK (a zip archive); this file is \
                            not a zip archive"
                        .into(),
                );
            }
            check_zip_directory(&mut f)?;
            f.rewind().map_err(|e| format!("reading the upload: {e}"))?;
            let zip = zip::ZipArchive::new(f)
                .map_err(|e| format!("the APK is not a readable zip archive ({e})"))?;
            if zip.index_for_name("AndroidManifest.xml").is_none() {
                return Err(
                    "the zip archive has no AndroidManifest.xml: it is not an APK \
                            (an .aab bundle goes to Google Play, not to phones; upload the \
                            signed .apk)"
                        .into(),
                );
            }
            Ok(FileKind::Apk)
        }
        Platform::Linux => {
            if head.starts_with(b"\x7fELF") {
                Ok(FileKind::AppImage)
            } else if head.starts_with(b"!<arch>\n") {
                Ok(FileKind::Deb)
            } else {
                Err(
                    "a Linux release must be an AppImage or a .deb package; this file is \
                     neither"
                        .into(),
                )
            }
        }
        Platform::Ios | Platform::Macos | Platform::Windows => Err(format!(
            "{} builds are published as a link (App Store, TestFlight or your download page), \
             not as a file: send url instead of file",
            platform_name(platform)
        )),
    }
}

/// The most files an APK may hold. Real APKs hold a few thousand (large apps tens of
/// thousands); the zip reader builds an entry for each one the archive declares, so a crafted
/// file declaring millions is refused before it is read.
pub const MAX_APK_ENTRIES: u64 = 50_000;

/// Who signed a release file: for an Android APK the SHA-256 of its signing certificate
/// ([`apk_signing_certificate`]); `None` for the other platforms' files.
pub fn signing_cert_of(platform: Platform, path: &Path) -> Result<Option<String>, String> {
    if platform != Platform::Android {
        return Ok(None);
    }
    let mut f = std::fs::File::open(path).map_err(|e| format!("reading the upload: {e}"))?;
    apk_signing_certificate(&mut f).map(Some)
}

/// The ids of the APK Signature Scheme v3 and v2 blocks in an APK Signing Block.
const APK_SIGNATURE_V3: u32 = 0xf053_68c0;
const APK_SIGNATURE_V2: u32 = 0x7109_871a;
/// The largest APK Signing Block read (real ones are a few kilobytes).
const MAX_SIGNING_BLOCK: u64 = 16 * 1024 * 1024;

/// The SHA-256 (lower-case hex) of the certificate an APK is signed with: the first signer's
/// first certificate of its APK Signature Scheme v3 block, or of its v2 block (the APK Signing
/// Block sits right before the zip's central directory). Android checks the signature itself
/// when it installs; the server only compares who signed, so a build signed by someone else is
/// refused before a phone sees it. An APK without a v2/v3 signature (unsigned, or v1 only) is an
/// error: Android 11 and later install no such APK.
pub fn apk_signing_certificate(f: &mut (impl Read + Seek)) -> Result<String, String> {
    let unreadable = |e: std::io::Error| format!("reading the upload: {e}");
    let unsigned = || {
        "the APK is not signed with APK Signature Scheme v2 or v3; sign the release build \
         with apksigner (Android installs no unsigned APK)"
            .to_string()
    };
    let broken = || "the APK's signing block is damaged; sign the build again".to_string();
    let len = f.seek(SeekFrom::End(0)).map_err(unreadable)?;
    let tail_len = len.min(22 + 65_535);
    f.seek(SeekFrom::Start(len - tail_len))
        .map_err(unreadable)?;
    let mut tail = vec![0u8; tail_len as usize];
    f.read_exact(&mut tail).map_err(unreadable)?;
    let at = (0..tail.len().saturating_sub(21))
        .rev()
        .find(|&i| tail[i..].starts_with(b"PK\x05\x06"))
        .ok_or_else(unsigned)?;
    let cd_offset = u64::from(u32::from_le_bytes(
        tail[at + 16..at + 20].try_into().expect("4 bytes"),
    ));
    if cd_offset < 32 || cd_offset > len {
        return Err(unsigned());
    }
    // The block ends with its size (8 bytes) and the magic "APK Sig Block 42" (16 bytes).
    let mut footer = [0u8; 24];
    f.seek(SeekFrom::Start(cd_offset - 24))
        .map_err(unreadable)?;
    f.read_exact(&mut footer).map_err(unreadable)?;
    if &footer[8..] != b"APK Sig Block 42" {
        return Err(unsigned());
    }
    let size = u64::from_le_bytes(footer[..8].try_into().expect("8 bytes"));
    if !(24..=MAX_SIGNING_BLOCK).contains(&size) || size + 8 > cd_offset {
        return Err(broken());
    }
    let start = cd_offset - size - 8;
    let mut block = vec![0u8; (size + 8) as usize];
    f.seek(SeekFrom::Start(start)).map_err(unreadable)?;
    f.read_exact(&mut block).map_err(unreadable)?;
    if block[..8] != footer[..8] {
        return Err(broken());
    }
    // The ID-value pairs, each prefixed by its length (8 bytes), between the two sizes.
    let mut pairs = &block[8..block.len() - 24];
    let mut found: Option<(u32, &[u8])> = None;
    while !pairs.is_empty() {
        let (pair, rest) = take_u64_prefixed(pairs).ok_or_else(broken)?;
        pairs = rest;
        if pair.len() < 4 {
            return Err(broken());
        }
        let id = u32::from_le_bytes(pair[..4].try_into().expect("4 bytes"));
        let better = match found {
            None => id == APK_SIGNATURE_V2 || id == APK_SIGNATURE_V3,
            Some((seen, _)) => id == APK_SIGNATURE_V3 && seen != APK_SIGNATURE_V3,
        };
        if better {
            found = Some((id, &pair[4..]));
        }
    }
    let (_, value) = found.ok_or_else(unsigned)?;
    // signers → the first signer → its signed data → (digests, then) certificates → the first.
    let cert = (|| {
        let (signers, _) = take_u32_prefixed(value)?;
        let (signer, _) = take_u32_prefixed(signers)?;
        let (signed, _) = take_u32_prefixed(signer)?;
        let (_digests, rest) = take_u32_prefixed(signed)?;
        let (certs, _) = take_u32_prefixed(rest)?;
        let (cert, _) = take_u32_prefixed(certs)?;
        (!cert.is_empty()).then_some(cert)
    })()
    .ok_or_else(broken)?;
    Ok(hex::encode(sha2::Sha256::digest(cert)))
}

/// `bytes` split after a little-endian u32 length and that many bytes.
fn take_u32_prefixed(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
    let body = bytes.get(4..4usize.checked_add(len)?)?;
    Some((body, &bytes[4 + len..]))
}

/// `bytes` split after a little-endian u64 length and that many bytes.
fn take_u64_prefixed(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = usize::try_from(u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?)).ok()?;
    let body = bytes.get(8..8usize.checked_add(len)?)?;
    Some((body, &bytes[8 + len..]))
}

/// Reads what the zip's end-of-central-directory record (and its ZIP64 form) declares: the
/// number of entries and the directory's size, refusing more than [`MAX_APK_ENTRIES`] or a
/// directory that cannot hold them or does not fit in the file, before the directory is
/// parsed.
fn check_zip_directory(f: &mut (impl Read + Seek)) -> Result<(), String> {
    const EOCD: &[u8] = b"PK\x05\x06";
    const LOCATOR: &[u8] = b"PK\x06\x07";
    const EOCD64: &[u8] = b"PK\x06\x06";
    let unreadable = |e: std::io::Error| format!("reading the upload: {e}");
    let len = f.seek(SeekFrom::End(0)).map_err(unreadable)?;
    // The record is 22 bytes and ends the file, after a comment of up to 65,535 bytes.
    let tail_len = len.min(22 + 65_535 + 20);
    f.seek(SeekFrom::Start(len - tail_len))
        .map_err(unreadable)?;
    let mut tail = vec![0u8; tail_len as usize];
    f.read_exact(&mut tail).map_err(unreadable)?;
    let not_zip =
        || "the APK is not a readable zip archive (no end of central directory)".to_string();
    let at = (0..tail.len().saturating_sub(21))
        .rev()
        .find(|&i| tail[i..].starts_with(EOCD))
        .ok_or_else(not_zip)?;
    let u16_at = |b: &[u8], i: usize| u64::from(u16::from_le_bytes([b[i], b[i + 1]]));
    let u32_at = |b: &[u8], i: usize| {
        u64::from(u32::from_le_bytes(b[i..i + 4].try_into().expect("4 bytes")))
    };
    let mut entries = u16_at(&tail, at + 10);
    let mut size = u32_at(&tail, at + 12);
    if (entries == 0xffff || size == 0xffff_ffff)
        && at >= 20
        && tail[at - 20..].starts_with(LOCATOR)
    {
        // ZIP64: the locator names where the 64-bit record is.
        let record_at = u64::from_le_bytes(tail[at - 12..at - 4].try_into().expect("8 bytes"));
        if record_at.saturating_add(56) > len {
            return Err(not_zip());
        }
        let mut record = [0u8; 56];
        f.seek(SeekFrom::Start(record_at)).map_err(unreadable)?;
        f.read_exact(&mut record).map_err(unreadable)?;
        if !record.starts_with(EOCD64) {
            return Err(not_zip());
        }
        entries = u64::from_le_bytes(record[32..40].try_into().expect("8 bytes"));
        size = u64::from_le_bytes(record[40..48].try_into().expect("8 bytes"));
    }
    if entries > MAX_APK_ENTRIES {
        return Err(format!(
            "the APK declares {entries} files; this server takes APKs of at most \
             {MAX_APK_ENTRIES} files"
        ));
    }
    // Each directory entry takes at least 46 bytes.
    if size > len || entries.saturating_mul(46) > size {
        return Err(
            "the APK's zip directory does not match what it declares: it is damaged or not \
             an APK"
                .into(),
        );
    }
    Ok(())
}

fn read_up_to(f: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    fn release(version: &str, percent: u8) -> Release {
        Release {
            platform: Platform::Android,
            version: v(version),
            sha256: Some(format!("{:0>64}", version.replace('.', ""))),
            size: Some(10),
            link: None,
            rollout_percent: percent,
            paused: false,
            withdrawn: false,
            published_at: 0,
            published_by: "test".into(),
        }
    }

    fn devices(n: usize) -> Vec<String> {
        (0..n)
            .map(|i| format!("0193e0a0-0000-7000-8000-{i:012}"))
            .collect()
    }

    #[test]
    fn raising_a_rollout_only_adds_devices_and_the_share_matches_the_percentage() {
        let ids = devices(10_000);
        let mut r = release("1.4.0", 0);
        let mut before: Vec<&String> = Vec::new();
        for percent in [0u8, 1, 10, 25, 50, 90, 100] {
            r.rollout_percent = percent;
            let now: Vec<&String> = ids.iter().filter(|d| r.offered_to(d)).collect();
            assert!(
                before.iter().all(|d| now.contains(d)),
                "raising to {percent} % dropped a device"
            );
            let share = now.len() as f64 / ids.len() as f64 * 100.0;
            assert!(
                (share - f64::from(percent)).abs() < 2.0,
                "{percent} % offered to {share:.1} %"
            );
            before = now;
        }
        assert_eq!(before.len(), ids.len());
    }

    #[test]
    fn the_bucket_is_stable_and_differs_between_releases() {
        let d = "0193e0a0-0000-7000-8000-000000000001";
        let a = rollout_bucket(Platform::Android, &v("1.4.0"), d);
        assert_eq!(a, rollout_bucket(Platform::Android, &v("1.4.0"), d));
        let ids = devices(200);
        let same = ids
            .iter()
            .filter(|d| {
                rollout_bucket(Platform::Android, &v("1.4.0"), d)
                    == rollout_bucket(Platform::Android, &v("1.5.0"), d)
            })
            .count();
        assert!(
            same < 10,
            "{same} of 200 devices share buckets across releases"
        );
    }

    #[test]
    fn a_device_outside_the_rollout_is_offered_the_previous_release() {
        let ids = devices(400);
        let rel = [release("1.3.0", 100), release("1.4.0", 10)];
        let mut on_new = 0;
        for d in &ids {
            let o = offered(&rel, None, |r| r.offered_to(d)).unwrap();
            if o.version == v("1.4.0") {
                on_new += 1;
            } else {
                assert_eq!(o.version, v("1.3.0"));
            }
        }
        assert!((20..=60).contains(&on_new), "{on_new} of 400 at 10 %");
    }

    #[test]
    fn paused_and_withdrawn_releases_are_offered_to_nobody() {
        let d = "any";
        let mut rel = [release("1.3.0", 100), release("1.4.0", 100)];
        assert_eq!(
            offered(&rel, None, |r| r.offered_to(d)).unwrap().version,
            v("1.4.0")
        );
        rel[1].paused = true;
        assert_eq!(
            offered(&rel, None, |r| r.offered_to(d)).unwrap().version,
            v("1.3.0")
        );
        assert_eq!(current(&rel, None).unwrap().version, v("1.3.0"));
        rel[1].paused = false;
        rel[1].withdrawn = true;
        assert_eq!(
            offered(&rel, None, |r| r.offered_to(d)).unwrap().version,
            v("1.3.0")
        );
        rel[0].withdrawn = true;
        assert!(offered(&rel, None, |r| r.offered_to(d)).is_none());
    }

    #[test]
    fn a_required_update_is_never_held_back_by_a_staged_rollout() {
        // The minimum is 1.4.0 and 1.4.0 is at 0 %: every device is still offered it.
        let rel = [
            release("1.3.0", 100),
            release("1.4.0", 0),
            release("1.5.0", 5),
        ];
        let min = v("1.4.0");
        for d in devices(100) {
            let o = offered(&rel, Some(&min), |r| r.offered_to(&d)).unwrap();
            assert!(o.version >= min, "{d} offered {}", o.version);
        }
        let p = policy_for(&rel, Some(&min), "x", "https://d.example").unwrap();
        assert_eq!(p.minimum, "1.4.0");
        assert!(v(&p.latest) >= min);
    }

    #[test]
    fn a_paused_release_is_not_offered_even_to_phones_below_the_minimum() {
        // 1.4.0 is the minimum and was paused as broken: phones on 1.3.0 are not sent to it.
        let mut rel = [
            release("1.3.0", 100),
            release("1.4.0", 100),
            release("1.5.0", 0),
        ];
        rel[1].paused = true;
        let min = v("1.4.0");
        let p = policy_for(&rel, Some(&min), "d", "https://d.example").unwrap();
        // The next release at or above the minimum that is not paused (at 0 %: required
        // updates skip the rollout).
        assert_eq!(p.latest, "1.5.0");
        assert!(p.update_url.is_some());
        rel[2].paused = true;
        let p = policy_for(&rel, Some(&min), "d", "https://d.example").unwrap();
        assert_eq!(p.minimum, "1.4.0");
        assert_eq!(
            p.update_url, None,
            "no update to offer: the phone asks the fleet"
        );
        assert!(for_new_device(&rel, Some(&min)).is_none_or(|r| !r.paused));
        assert!(current(&rel, Some(&min)).is_none_or(|r| !r.paused));
    }

    #[test]
    fn the_policy_names_the_file_on_the_server_or_the_link() {
        let mut r = release("1.4.0", 100);
        let p = policy_for(std::slice::from_ref(&r), None, "d", "https://d.example/").unwrap();
        assert_eq!(p.minimum, "0.0.0");
        assert_eq!(p.latest, "1.4.0");
        let sha = r.sha256.clone().unwrap();
        assert_eq!(
            p.update_url.as_deref(),
            Some(format!("https://d.example/v1/releases/files/{sha}").as_str())
        );
        assert_eq!(p.sha256, Some(sha));
        r.sha256 = None;
        r.link = Some("https://testflight.apple.com/join/abc".into());
        let p = policy_for(&[r], None, "d", "https://d.example").unwrap();
        assert_eq!(
            p.update_url.as_deref(),
            Some("https://testflight.apple.com/join/abc")
        );
        assert_eq!(p.sha256, None);
        assert!(policy_for(&[], None, "d", "x").is_none());
        let p = policy_for(&[], Some(&v("1.0.0")), "d", "x").unwrap();
        assert_eq!((p.latest.as_str(), p.update_url), ("1.0.0", None));
    }

    #[test]
    fn versions_compare_as_semver_and_must_rise() {
        let rel = [release("1.9.3", 100), release("1.10.0-rc.1", 0)];
        assert!(check_new_version(&rel, &v("1.10.0")).is_ok());
        assert!(check_new_version(&rel, &v("1.10.0-rc.1")).is_err());
        assert!(check_new_version(&rel, &v("1.9.9")).is_err());
        for bad in ["1.4", "v1.4.0", "latest", "1.4.0.1", "", "01.4.0"] {
            assert!(parse_version(bad).is_err(), "{bad} accepted");
        }
        assert_eq!(parse_version(" 1.4.0-rc.1 ").unwrap(), v("1.4.0-rc.1"));
        let mut w = release("2.0.0", 100);
        w.withdrawn = true;
        assert!(check_new_version(&[w.clone()], &v("2.0.0")).is_err());
        assert!(check_minimum(&[w.clone(), release("1.0.0", 100)], &v("1.0.0")).is_ok());
        assert!(check_minimum(&[w, release("1.0.0", 100)], &v("1.5.0")).is_err());
        assert!(check_minimum(&[], &v("0.1.0")).is_err());
    }

    #[test]
    fn an_apks_signer_is_read_from_its_signing_block() {
        use crate::testing::{TEST_SIGNING_CERT, apk_signed_by};
        let cert_of = |bytes: Vec<u8>| apk_signing_certificate(&mut std::io::Cursor::new(bytes));
        assert_eq!(
            cert_of(apk_signed_by("1", Some(TEST_SIGNING_CERT))).unwrap(),
            hex::encode(Sha256::digest(TEST_SIGNING_CERT))
        );
        assert_ne!(
            cert_of(apk_signed_by("1", Some(b"someone else"))).unwrap(),
            cert_of(apk_signed_by("1", Some(TEST_SIGNING_CERT))).unwrap()
        );
        let err = cert_of(apk_signed_by("1", None)).unwrap_err();
        assert!(err.contains("not signed"), "{err}");
        // A damaged block (its sizes cut or grown) is an error, never a panic.
        let signed = apk_signed_by("1", Some(TEST_SIGNING_CERT));
        let magic = signed
            .windows(16)
            .position(|w| w == b"APK Sig Block 42")
            .unwrap();
        for (at, byte) in [(magic - 8, 0xff), (magic - 8, 0x10), (magic - 2, 0x01)] {
            let mut bad = signed.clone();
            bad[at] = byte;
            assert!(cert_of(bad).is_err());
        }
        for cut in 0..signed.len() {
            let _ = cert_of(signed[..cut].to_vec());
        }
    }

    #[test]
    fn links_must_be_plain_https() {
        let link = |l: &str| check_link(l, "fleet.example.com", &[]);
        assert!(link("https://apps.apple.com/app/id123").is_ok());
        for bad in [
            "http://apps.apple.com/app",
            "javascript:alert(1)",
            "https://user:pw@apps.apple.com/",
            "ftp://x",
            "not a url",
        ] {
            assert!(link(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn links_point_only_to_the_stores_this_server_or_hosts_the_operator_lists() {
        let hosts = vec!["builds.example.org".to_string()];
        let link = |l: &str| check_link(l, "fleet.example.com", &hosts);
        for ok in [
            "https://play.google.com/store/apps/details?id=x",
            "https://testflight.apple.com/join/abc",
            "https://FLEET.example.com/v1/releases/files/ab",
            "https://builds.example.org/app.apk",
        ] {
            assert!(link(ok).is_ok(), "{ok} refused");
        }
        let err = link("https://evil.example.net/app.apk").unwrap_err();
        assert!(err.contains("--release-link-host"), "{err}");
        assert!(link("https://play.google.com.evil.net/x").is_err());
    }

    /// `zip` with its end-of-central-directory record's entry counts set to `entries`.
    fn declaring(mut zip: Vec<u8>, entries: u16) -> Vec<u8> {
        let at = zip.len() - 22;
        assert_eq!(&zip[at..at + 4], b"PK\x05\x06");
        zip[at + 8..at + 10].copy_from_slice(&entries.to_le_bytes());
        zip[at + 10..at + 12].copy_from_slice(&entries.to_le_bytes());
        zip
    }

    #[test]
    fn an_apk_declaring_more_files_than_it_can_hold_is_refused_before_it_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.apk");
        let apk = crate::testing::zip_with(&["AndroidManifest.xml", "classes.dex"]);
        std::fs::write(&path, declaring(apk.clone(), 60_000)).unwrap();
        let e = check_file(Platform::Android, &path).unwrap_err();
        assert!(e.contains("declares 60000 files"), "{e}");
        std::fs::write(&path, declaring(apk.clone(), 40_000)).unwrap();
        let e = check_file(Platform::Android, &path).unwrap_err();
        assert!(e.contains("does not match"), "{e}");

        // ZIP64: the 16-bit count says "see the 64-bit record", which declares a billion.
        let mut z = declaring(apk.clone(), 0xffff);
        let eocd = z.len() - 22;
        let cd_size = u32::from_le_bytes(z[eocd + 12..eocd + 16].try_into().unwrap());
        let cd_at = u32::from_le_bytes(z[eocd + 16..eocd + 20].try_into().unwrap());
        let mut record = Vec::new();
        record.extend_from_slice(b"PK\x06\x06");
        record.extend_from_slice(&44u64.to_le_bytes());
        record.extend_from_slice(&[45, 0, 45, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        record.extend_from_slice(&1_000_000_000u64.to_le_bytes());
        record.extend_from_slice(&1_000_000_000u64.to_le_bytes());
        record.extend_from_slice(&u64::from(cd_size).to_le_bytes());
        record.extend_from_slice(&u64::from(cd_at).to_le_bytes());
        let record_at = eocd as u64;
        let mut locator = Vec::new();
        locator.extend_from_slice(b"PK\x06\x07");
        locator.extend_from_slice(&0u32.to_le_bytes());
        locator.extend_from_slice(&record_at.to_le_bytes());
        locator.extend_from_slice(&1u32.to_le_bytes());
        let tail = z.split_off(eocd);
        z.extend_from_slice(&record);
        z.extend_from_slice(&locator);
        z.extend_from_slice(&tail);
        std::fs::write(&path, &z).unwrap();
        let e = check_file(Platform::Android, &path).unwrap_err();
        assert!(e.contains("declares 1000000000 files"), "{e}");

        std::fs::write(&path, &apk).unwrap();
        assert_eq!(check_file(Platform::Android, &path), Ok(FileKind::Apk));
    }

    #[test]
    fn files_are_checked_against_their_platform() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, bytes: &[u8]| {
            let p = dir.path().join(name);
            std::fs::write(&p, bytes).unwrap();
            p
        };
        let apk = write(
            "a.apk",
            &crate::testing::zip_with(&["AndroidManifest.xml", "classes.dex"]),
        );
        let aab = write(
            "a.aab",
            &crate::testing::zip_with(&["base/manifest/AndroidManifest.xml"]),
        );
        let elf = write("a.AppImage", b"\x7fELF\x02\x01\x01rest");
        let deb = write("a.deb", b"!<arch>\ndebian-binary");
        let text = write("a.txt", b"hello");
        let empty = write("e", b"");
        assert_eq!(check_file(Platform::Android, &apk), Ok(FileKind::Apk));
        assert!(
            check_file(Platform::Android, &aab)
                .unwrap_err()
                .contains("AndroidManifest.xml")
        );
        assert!(
            check_file(Platform::Android, &text)
                .unwrap_err()
                .contains("not a zip")
        );
        assert!(check_file(Platform::Android, &empty).is_err());
        assert!(check_file(Platform::Android, &elf).is_err());
        assert_eq!(check_file(Platform::Linux, &elf), Ok(FileKind::AppImage));
        assert_eq!(check_file(Platform::Linux, &deb), Ok(FileKind::Deb));
        assert!(check_file(Platform::Linux, &apk).is_err());
        assert!(
            check_file(Platform::Ios, &apk)
                .unwrap_err()
                .contains("link")
        );
    }
}
