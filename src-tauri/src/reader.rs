//! The desktop barcode reader's WebAssembly (ZXing, ~1.1 MB), served to the UI on the
//! `reader:` URI scheme from the app's resource directory.
//!
//! Tauri embeds the whole UI bundle in the binary, so the wasm is not part of it: the Linux build
//! ships it as a bundle resource (`tauri.linux.conf.json`; `tauri-build` also copies it next to
//! the binary in `target/<profile>/`), and the UI fetches it only when a desktop scanner opens
//! (`ui/src/lib/scanner.ts`). Mobile builds scan with the native plugin and have neither the file
//! nor this scheme.

use std::path::{Path, PathBuf};

use tauri::http::{Method, Request, Response, StatusCode, header};
use tauri::{Manager, Runtime};

/// The URI scheme; the UI builds its URL with `convertFileSrc(WASM_FILE, SCHEME)`, and the CSP's
/// `connect-src` (tauri.conf.json) allows it.
pub const SCHEME: &str = "reader";

/// The resource's file name, the only path the scheme serves.
pub const WASM_FILE: &str = "zxing_reader.wasm";

/// Adds the `reader:` scheme to the app. The file is read off the main thread.
pub fn register<R: Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    builder.register_asynchronous_uri_scheme_protocol(SCHEME, |ctx, request, responder| {
        let dirs = search_dirs(ctx.app_handle().path().resource_dir().ok());
        tauri::async_runtime::spawn_blocking(move || responder.respond(respond(&dirs, &request)));
    })
}

/// Answers one request: the wasm for `GET /zxing_reader.wasm`, read from the first of `dirs`
/// that has it; 404 for any other path or when no directory has the file.
pub fn respond(dirs: &[PathBuf], request: &Request<Vec<u8>>) -> Response<Vec<u8>> {
    if request.method() != Method::GET || request.uri().path() != format!("/{WASM_FILE}") {
        return status(StatusCode::NOT_FOUND);
    }
    let wasm = dirs
        .iter()
        .find_map(|dir| std::fs::read(dir.join(WASM_FILE)).ok());
    match wasm {
        Some(wasm) => Response::builder()
            .header(header::CONTENT_TYPE, "application/wasm")
            // The page's origin (tauri://localhost) differs from this scheme's.
            .header(header::ACCESS_CONTROL_ALLOW_ORIGIN, "*")
            .body(wasm)
            .unwrap_or_else(|_| status(StatusCode::INTERNAL_SERVER_ERROR)),
        None => {
            tracing::warn!(dirs = ?dirs, "the barcode reader's {WASM_FILE} is missing");
            status(StatusCode::NOT_FOUND)
        }
    }
}

/// Where the file may be: the resource directory (a .deb, an AppImage, or `target/<profile>/`
/// when the binary runs from cargo's output), then the executable's own directory, for a
/// binary copied elsewhere together with the file.
pub fn search_dirs(resource_dir: Option<PathBuf>) -> Vec<PathBuf> {
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf));
    let mut dirs: Vec<PathBuf> = resource_dir.into_iter().collect();
    dirs.extend(exe_dir.filter(|d| !dirs.contains(d)));
    dirs
}

fn status(code: StatusCode) -> Response<Vec<u8>> {
    let mut response = Response::new(Vec::new());
    *response.status_mut() = code;
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        header::HeaderValue::from_static("*"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str) -> Request<Vec<u8>> {
        Request::builder()
            .uri(format!("reader://localhost{path}"))
            .body(Vec::new())
            .unwrap()
    }

    #[test]
    fn the_wasm_is_served_from_the_first_directory_that_has_it() {
        let empty = tempfile::tempdir().unwrap();
        let resources = tempfile::tempdir().unwrap();
        std::fs::write(resources.path().join(WASM_FILE), b"\0asm\x01\0\0\0").unwrap();
        let dirs = [empty.path().to_path_buf(), resources.path().to_path_buf()];

        let response = respond(&dirs, &get("/zxing_reader.wasm"));

        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/wasm");
        assert_eq!(response.body().as_slice(), b"\0asm\x01\0\0\0");
    }

    #[test]
    fn no_other_file_is_served_from_the_resource_directory() {
        let resources = tempfile::tempdir().unwrap();
        std::fs::write(resources.path().join(WASM_FILE), b"\0asm").unwrap();
        std::fs::write(resources.path().join("secret.txt"), b"no").unwrap();
        let dirs = [resources.path().to_path_buf()];

        for path in [
            "/secret.txt",
            "/../zxing_reader.wasm",
            "/",
            "/zxing_reader.wasm/x",
        ] {
            assert_eq!(
                respond(&dirs, &get(path)).status(),
                StatusCode::NOT_FOUND,
                "{path}"
            );
        }
    }

    #[test]
    fn a_missing_file_is_not_found() {
        let empty = tempfile::tempdir().unwrap();
        let response = respond(&[empty.path().to_path_buf()], &get("/zxing_reader.wasm"));
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
}
