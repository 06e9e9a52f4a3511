//! A cache of decompressed kernels, so that a second start of the same
//! bzImage skips its xz decompression: `$XDG_CACHE_HOME/hangar/kernels`
//! (or `~/.cache/hangar/kernels`), one `vmlinux-<size>-<crc64>` file per
//! bzImage, keyed by the bzImage's length and CRC-64 (liblzma's), written
//! atomically and holding at most [`MAX_ENTRIES`] kernels.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Most decompressed kernels kept (each is tens of MiB).
pub const MAX_ENTRIES: usize = 4;

/// The cache folder, or `None` when neither `XDG_CACHE_HOME` nor `HOME` is
/// set (then nothing is cached).
pub fn cache_dir() -> Option<PathBuf> {
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    let base = match var("XDG_CACHE_HOME") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(var("HOME")?).join(".cache"),
    };
    Some(base.join("hangar").join("kernels"))
}

/// The cache file name of the bzImage `image`.
pub fn entry_name(image: &[u8]) -> String {
    // SAFETY: lzma_crc64 reads exactly `image.len()` bytes from a valid,
    // live slice and keeps no pointer to it.
    let crc = unsafe { lzma_sys::lzma_crc64(image.as_ptr(), image.len(), 0) };
    format!("vmlinux-{}-{crc:016x}", image.len())
}

/// The cached vmlinux of `name` in `dir`, if there is one.
pub fn lookup(dir: &Path, name: &str) -> Option<File> {
    let path = dir.join(name);
    let file = File::open(&path).ok()?;
    // Mark it used, so that trimming drops the least recently used first.
    let _ = file.set_modified(std::time::SystemTime::now());
    Some(file)
}

/// Stores `vmlinux` as `name` in `dir` (temp file, fsync, rename, fsync of
/// the folder), then removes the oldest entries beyond [`MAX_ENTRIES`].
pub fn store(dir: &Path, name: &str, vmlinux: &[u8]) -> std::io::Result<()> {
    fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = (|| {
        let mut file = File::create(&tmp)?;
        file.write_all(vmlinux)?;
        file.sync_all()?;
        fs::rename(&tmp, dir.join(name))?;
        File::open(dir)?.sync_all()
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written?;
    trim(dir, MAX_ENTRIES);
    Ok(())
}

/// Removes all but the `keep` most recently used entries of `dir`.
fn trim(dir: &Path, keep: usize) {
    let Ok(read) = fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<(std::time::SystemTime, PathBuf)> = read
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("vmlinux-"))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    entries.sort_by(|a, b| b.0.cmp(&a.0));
    for (_, path) in entries.into_iter().skip(keep) {
        let _ = fs::remove_file(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_keyed_by_content_and_bounded() {
        let dir = std::env::temp_dir().join(format!("hangar-kcache-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let a = entry_name(b"kernel a");
        assert_ne!(a, entry_name(b"kernel b"));
        assert_eq!(a, entry_name(b"kernel a"));
        assert!(lookup(&dir, &a).is_none());
        store(&dir, &a, b"vmlinux a").expect("stored");
        let mut back = Vec::new();
        std::io::Read::read_to_end(&mut lookup(&dir, &a).expect("cached"), &mut back)
            .expect("read");
        assert_eq!(back, b"vmlinux a");
        for i in 0..MAX_ENTRIES + 2 {
            std::thread::sleep(std::time::Duration::from_millis(5));
            store(&dir, &entry_name(&[i as u8; 3]), b"x").expect("stored");
        }
        let left = fs::read_dir(&dir).expect("dir").count();
        assert_eq!(
            left, MAX_ENTRIES,
            "no temp files, at most MAX_ENTRIES kernels"
        );
        let _ = fs::remove_dir_all(&dir);
    }
}
