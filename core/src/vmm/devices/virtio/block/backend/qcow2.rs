//! qcow2 images through imago, with the backing chain the header names
//! (backing files are always opened read-only).

use super::{open_file, write_zero_buffers, BackendCaps, BackendError, DiskBackend, IoBuffers};
use crate::vmm::config::DiskConfig;
use imago::file::File as ImagoFile;
use imago::io_buffers::{IoVector, IoVectorMut};
use imago::qcow2::Qcow2;
use imago::{FormatAccess, FormatDriverBuilder, PermissiveImplicitOpenGate, StorageOpenOptions};
use std::io;
use std::path::PathBuf;

/// A qcow2 image.
pub struct Qcow2Disk {
    image: FormatAccess<ImagoFile>,
    path: PathBuf,
    /// The image cannot make zero clusters (e.g. version 2): write buffers.
    no_zero_clusters: bool,
}

impl Qcow2Disk {
    /// Opens the image of `config` with its backing chain (the image itself
    /// read-only when the disk is).
    pub fn open(config: &DiskConfig) -> Result<Qcow2Disk, BackendError> {
        let writable = !config.read_only;
        let file =
            open_file(&config.path, config.read_only).map_err(|e| BackendError::open(config, e))?;
        let qcow2_err = |error: io::Error| BackendError::Qcow2 {
            target: config.target.clone(),
            path: config.path.clone(),
            error,
        };
        let storage = ImagoFile::from_open_file(
            file,
            StorageOpenOptions::new()
                .write(writable)
                .filename(&config.path),
        )
        .map_err(qcow2_err)?;
        let image = Qcow2::<ImagoFile>::builder(storage)
            .write(writable)
            .open(PermissiveImplicitOpenGate::default())
            .map_err(qcow2_err)?;
        Ok(Qcow2Disk {
            image: FormatAccess::new(image),
            path: config.path.clone(),
            no_zero_clusters: false,
        })
    }
}

fn unsupported(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::Unsupported
}

impl DiskBackend for Qcow2Disk {
    fn capacity(&self) -> u64 {
        self.image.size()
    }

    fn caps(&self) -> BackendCaps {
        BackendCaps {
            discard: true,
            write_zeroes: true,
        }
    }

    fn read(&mut self, offset: u64, bufs: &mut IoBuffers<'_>) -> io::Result<()> {
        let slices = bufs.as_slices_mut();
        self.image.readv(IoVectorMut::from(slices), offset)
    }

    fn write(&mut self, offset: u64, bufs: &IoBuffers<'_>) -> io::Result<()> {
        let slices = bufs.as_slices();
        self.image.writev(IoVector::from(slices), offset)
    }

    fn flush(&mut self) -> io::Result<()> {
        // Metadata caches to the file first, then the file to the disk.
        self.image.flush()?;
        self.image.sync()
    }

    fn discard(&mut self, offset: u64, len: u64) -> io::Result<()> {
        match self.image.discard_to_any(offset, len) {
            // A hint the image cannot take is not an error.
            Err(e) if unsupported(&e) => Ok(()),
            other => other,
        }
    }

    fn write_zeroes(&mut self, offset: u64, len: u64, unmap: bool) -> io::Result<()> {
        if !self.no_zero_clusters {
            let result = if unmap {
                self.image.discard_to_zero(offset, len)
            } else {
                self.image.write_zeroes(offset, len)
            };
            match result {
                Err(e) if unsupported(&e) => self.no_zero_clusters = true,
                other => return other,
            }
        }
        write_zero_buffers(self, offset, len)
    }
}

impl Drop for Qcow2Disk {
    fn drop(&mut self) {
        // Dirty L2 and refcount tables must reach the file before it closes,
        // or the image is left inconsistent.
        if let Err(e) = self.image.flush().and_then(|()| self.image.sync()) {
            eprintln!("hangar-vmm: cannot flush {}: {e}", self.path.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_files::TempDir;
    use super::*;
    use crate::storage::{create_volume, CreateOptions, VolumeFormat};
    use crate::vmm::config::DiskFormat;
    use std::path::Path;
    use std::process::Command;

    fn disk(path: &Path, read_only: bool) -> DiskConfig {
        DiskConfig {
            target: "vda".into(),
            path: path.to_path_buf(),
            format: DiskFormat::Qcow2,
            read_only,
            cdrom: false,
            serial: None,
            discard: true,
        }
    }

    fn qemu_img_check(path: &Path) {
        let out = Command::new("qemu-img")
            .args(["check", "-q"])
            .arg(path)
            .output()
            .expect("qemu-img (package qemu-utils) runs");
        assert!(
            out.status.success(),
            "qemu-img check {}: {}{}",
            path.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn pattern(seed: u8, len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31) ^ seed)
            .collect()
    }

    #[test]
    fn writes_reach_the_image_and_an_overlay_reads_through_its_backing_file() {
        let dir = TempDir::new("qcow2");
        let base = dir.path().join("base.qcow2");
        create_volume(&base, &CreateOptions::new(VolumeFormat::Qcow2, 8 << 20)).expect("base");
        let mut data = pattern(1, 128 * 1024);
        {
            let mut image = Qcow2Disk::open(&disk(&base, false)).expect("open base");
            assert_eq!(image.capacity(), 8 << 20);
            // Unaligned to clusters on purpose: a read-modify-write path.
            image
                .write(1 << 20 | 512, &IoBuffers::from_slice(&mut data))
                .expect("write");
            image.flush().expect("flush");
        }
        qemu_img_check(&base);

        let mut overlay_opts = CreateOptions::new(VolumeFormat::Qcow2, 0);
        overlay_opts.backing = Some((base.clone(), VolumeFormat::Qcow2));
        let overlay = dir.path().join("overlay.qcow2");
        create_volume(&overlay, &overlay_opts).expect("overlay");
        {
            let mut image = Qcow2Disk::open(&disk(&overlay, false)).expect("open overlay");
            let mut back = vec![0u8; data.len()];
            image
                .read(1 << 20 | 512, &mut IoBuffers::from_slice(&mut back))
                .expect("read through backing");
            assert!(back == data, "overlay reads the base's data");
            let mut new = pattern(2, 4096);
            image
                .write(1 << 20 | 512, &IoBuffers::from_slice(&mut new))
                .expect("write overlay");
            image.write_zeroes(4 << 20, 1 << 20, false).expect("zeroes");
            image.discard(6 << 20, 1 << 20).expect("discard");
            let mut zero = vec![1u8; 4096];
            image
                .read(4 << 20, &mut IoBuffers::from_slice(&mut zero))
                .expect("read zeroed");
            assert!(zero.iter().all(|&b| b == 0));
        }
        qemu_img_check(&overlay);
        qemu_img_check(&base);
        // The base is untouched by writes to the overlay.
        let mut image = Qcow2Disk::open(&disk(&base, true)).expect("reopen base read-only");
        let mut back = vec![0u8; data.len()];
        image
            .read(1 << 20 | 512, &mut IoBuffers::from_slice(&mut back))
            .expect("read base");
        assert!(back == data);
        let mut one = [0u8; 512];
        assert!(
            image.write(0, &IoBuffers::from_slice(&mut one)).is_err(),
            "a read-only image refuses writes"
        );
    }

    #[test]
    fn a_missing_image_or_backing_file_is_named_in_the_error() {
        let dir = TempDir::new("qcow2-missing");
        let missing = dir.path().join("nope.qcow2");
        let err = Qcow2Disk::open(&disk(&missing, false))
            .err()
            .expect("fails")
            .to_string();
        assert!(err.contains("nope.qcow2"), "{err}");
        let base = dir.path().join("base.qcow2");
        create_volume(&base, &CreateOptions::new(VolumeFormat::Qcow2, 1 << 20)).expect("base");
        let mut opts = CreateOptions::new(VolumeFormat::Qcow2, 0);
        opts.backing = Some((base.clone(), VolumeFormat::Qcow2));
        let overlay = dir.path().join("overlay.qcow2");
        create_volume(&overlay, &opts).expect("overlay");
        std::fs::remove_file(&base).expect("remove base");
        let err = Qcow2Disk::open(&disk(&overlay, false))
            .err()
            .expect("fails")
            .to_string();
        assert!(err.contains("base.qcow2"), "{err}");
    }
}
