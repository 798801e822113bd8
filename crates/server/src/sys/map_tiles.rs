//! The operator's map tiles (`--map-tiles`), checked when the server starts.

/// Whether `path` is a PMTiles archive this server can serve (version 3), said as an error
/// that tells the operator what to do when it is not.
pub(crate) fn check(path: &std::path::Path) -> Result<(), String> {
    use std::io::Read;
    let mut head = [0u8; 8];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .map_err(|e| format!("--map-tiles {}: {e}", path.display()))?;
    if &head[..7] != b"PMTiles" {
        return Err(format!(
            "--map-tiles {} is not a PMTiles archive (it does not start with \"PMTiles\"). Make \
             one with the pmtiles tool, e.g. `pmtiles extract \
             https://build.protomaps.com/YYYYMMDD.pmtiles region.pmtiles --bbox=W,S,E,N`.",
            path.display()
        ));
    }
    if head[7] != 3 {
        return Err(format!(
            "--map-tiles {} is PMTiles version {}; this server reads version 3 (convert it \
             with `pmtiles convert`).",
            path.display(),
            head[7]
        ));
    }
    Ok(())
}
