//! Loading the guest kernel: a bzImage whose payload is xz and whose vmlinux
//! has a PVH entry point is decompressed here (liblzma is faster than the
//! kernel's own small decoder, and writing the result from the host costs
//! the guest no stage-2 faults) and entered through PVH; any other bzImage
//! is loaded as is and boots through the 64-bit boot protocol, running its
//! own decompressor. Decompressed kernels are cached (see [`kernel_cache`]).

use super::arch::kernel_image::{
    boot_limits, decompress_xz, payload_format, payload_range, pvh_entry, KernelImageError,
    PayloadFormat,
};
use super::arch::layout::HIMEM_START;
use super::kernel_cache;
use linux_loader::bootparam::setup_header;
use linux_loader::loader::elf::{Elf, PvhBootCapability};
use linux_loader::loader::{bzimage::BzImage, KernelLoader};
use std::io::Cursor;
use std::path::Path;
use std::time::Instant;
use vm_memory::{Address, GuestAddress, GuestMemoryBackend, GuestMemoryMmap};

/// Errors loading the kernel.
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    /// The file cannot be read.
    #[error("cannot read kernel {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The kernel is not a bzImage.
    #[error("kernel {path} is not a bzImage (64-bit Linux boot protocol): {reason}")]
    NotBzImage {
        /// The file.
        path: String,
        /// What the loader found.
        reason: String,
    },
    /// The bzImage's xz payload is corrupt or its vmlinux unusable.
    #[error("kernel {path}: {source}")]
    Payload {
        /// The file.
        path: String,
        /// What is wrong with it.
        source: KernelImageError,
    },
    /// The bzImage unpacks itself past the end of the guest's memory.
    #[error(
        "guest memory ({have_mib} MiB) is too small for kernel {path}: it unpacks itself into {need_mib} MiB (from {start:#x} on)"
    )]
    TooLittleMemory {
        /// The file.
        path: String,
        /// Guest memory, MiB.
        have_mib: u64,
        /// Memory the kernel needs up to the end of its unpacked image, MiB.
        need_mib: u64,
        /// Where the kernel unpacks itself.
        start: u64,
    },
    /// The decompressed vmlinux does not fit the guest's memory.
    #[error("kernel {path}: cannot load its decompressed vmlinux: {reason}")]
    Vmlinux {
        /// The file.
        path: String,
        /// What the ELF loader said.
        reason: String,
    },
}

/// How the boot vCPU enters the loaded kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelEntry {
    /// The vmlinux is loaded at its physical addresses; enter it at its PVH
    /// entry point.
    Pvh {
        /// The `XEN_ELFNOTE_PHYS32_ENTRY` address.
        entry: u64,
    },
    /// The bzImage is loaded at 1 MiB; enter it at `startup_64`.
    Linux64 {
        /// Address of `startup_64`.
        entry: u64,
        /// Why PVH was not used.
        reason: String,
    },
}

/// A kernel in guest memory.
#[derive(Debug)]
pub struct LoadedKernel {
    /// The bzImage's setup header (for the PVH path, only its initrd and
    /// command line limits are set).
    pub header: setup_header,
    /// First guest address past the kernel.
    pub kernel_end: u64,
    /// How to enter it.
    pub entry: KernelEntry,
}

impl LoadedKernel {
    /// One line for hangar-vmm's log naming the boot path taken.
    pub fn describe(&self) -> String {
        match &self.entry {
            KernelEntry::Pvh { entry } => {
                format!("PVH boot of the decompressed vmlinux, entry {entry:#x}")
            }
            KernelEntry::Linux64 { reason, .. } => {
                format!("64-bit boot protocol of the bzImage ({reason})")
            }
        }
    }
}

/// Loads the kernel at `path` into `memory`. `pvh_allowed` is false when the
/// VM needs something only the zero page describes (a framebuffer).
pub fn load_kernel(
    memory: &GuestMemoryMmap,
    path: &Path,
    pvh_allowed: bool,
) -> Result<LoadedKernel, KernelError> {
    let name = path.display().to_string();
    let image = std::fs::read(path).map_err(|source| KernelError::Read {
        path: name.clone(),
        source,
    })?;
    let reason = if pvh_allowed {
        match load_vmlinux(memory, &image, &name)? {
            Ok(loaded) => return Ok(loaded),
            Err(reason) => reason,
        }
    } else {
        "the VM has a framebuffer, which only the zero page describes".to_string()
    };
    load_bzimage(memory, &image, &name, reason)
}

/// The PVH path: `Ok(Err(reason))` when this kernel cannot take it and the
/// bzImage path should be used, `Err` when the kernel file is broken.
fn load_vmlinux(
    memory: &GuestMemoryMmap,
    image: &[u8],
    name: &str,
) -> Result<Result<LoadedKernel, String>, KernelError> {
    let payload_error = |source| KernelError::Payload {
        path: name.to_string(),
        source,
    };
    let range = match payload_range(image) {
        Ok(range) => range,
        Err(e) => return Ok(Err(e.to_string())),
    };
    let payload = image.get(range).unwrap_or_default();
    if payload_format(payload) != PayloadFormat::Xz {
        return Ok(Err("its payload is not xz".into()));
    }
    let cache = kernel_cache::cache_dir().map(|dir| (dir, kernel_cache::entry_name(image)));
    if let Some((dir, key)) = &cache {
        if let Some(loaded) = load_cached(memory, image, name, dir, key) {
            return Ok(Ok(loaded));
        }
    }
    let started = Instant::now();
    let vmlinux = decompress_xz(payload).map_err(payload_error)?;
    let decompressed_in = started.elapsed();
    let Some(entry) = pvh_entry(&vmlinux).map_err(payload_error)? else {
        return Ok(Err("its vmlinux has no PVH entry note".into()));
    };
    if let Some((dir, key)) = &cache {
        if let Err(e) = kernel_cache::store(dir, key, &vmlinux) {
            eprintln!(
                "hangar-vmm: cannot cache the decompressed kernel in {}: {e}",
                dir.display()
            );
        }
    }
    let loaded = Elf::load(
        memory,
        None,
        &mut Cursor::new(&vmlinux),
        Some(GuestAddress(HIMEM_START)),
    )
    .map_err(|e| KernelError::Vmlinux {
        path: name.to_string(),
        reason: e.to_string(),
    })?;
    // Our note reader and linux-loader's must agree on the entry point.
    if loaded.pvh_boot_cap != PvhBootCapability::PvhEntryPresent(GuestAddress(entry.into())) {
        return Err(KernelError::Vmlinux {
            path: name.to_string(),
            reason: format!(
                "its PVH note says {entry:#x}, the ELF loader found {}",
                loaded.pvh_boot_cap
            ),
        });
    }
    eprintln!(
        "hangar-vmm: kernel {name}: xz payload of {} bytes decompressed to {} bytes in {} ms",
        payload.len(),
        vmlinux.len(),
        decompressed_in.as_millis()
    );
    Ok(Ok(LoadedKernel {
        header: boot_limits(image),
        kernel_end: loaded.kernel_end,
        entry: KernelEntry::Pvh {
            entry: entry.into(),
        },
    }))
}

/// Loads the cached vmlinux `key` of bzImage `image`, if it is there and
/// usable; an unusable one is removed (and decompressed again by the caller).
fn load_cached(
    memory: &GuestMemoryMmap,
    image: &[u8],
    name: &str,
    dir: &Path,
    key: &str,
) -> Option<LoadedKernel> {
    let mut file = kernel_cache::lookup(dir, key)?;
    let started = Instant::now();
    match Elf::load(memory, None, &mut file, Some(GuestAddress(HIMEM_START))) {
        Ok(loaded) => {
            if let PvhBootCapability::PvhEntryPresent(entry) = loaded.pvh_boot_cap {
                eprintln!(
                    "hangar-vmm: kernel {name}: decompressed vmlinux taken from the cache {} in {} ms",
                    dir.join(key).display(),
                    started.elapsed().as_millis()
                );
                return Some(LoadedKernel {
                    header: boot_limits(image),
                    kernel_end: loaded.kernel_end,
                    entry: KernelEntry::Pvh { entry: entry.0 },
                });
            }
        }
        Err(e) => eprintln!(
            "hangar-vmm: kernel {name}: cached vmlinux {} unusable ({e}); decompressing again",
            dir.join(key).display()
        ),
    }
    let _ = std::fs::remove_file(dir.join(key));
    None
}

fn load_bzimage(
    memory: &GuestMemoryMmap,
    image: &[u8],
    name: &str,
    reason: String,
) -> Result<LoadedKernel, KernelError> {
    let not_bzimage = |reason: String| KernelError::NotBzImage {
        path: name.to_string(),
        reason,
    };
    let loaded = BzImage::load(
        memory,
        None,
        &mut Cursor::new(image),
        Some(GuestAddress(HIMEM_START)),
    )
    .map_err(|e| not_bzimage(e.to_string()))?;
    let header = loaded
        .setup_header
        .ok_or_else(|| not_bzimage("no setup header".into()))?;
    let mem_end = memory.last_addr().raw_value() + 1;
    let unpacked_end = unpack_room(&header, loaded.kernel_load.0, mem_end, name)?;
    Ok(LoadedKernel {
        header,
        kernel_end: loaded.kernel_end.max(unpacked_end),
        // The 64-bit entry point is 0x200 past the protected-mode kernel.
        entry: KernelEntry::Linux64 {
            entry: loaded.kernel_load.0 + 0x200,
            reason,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memory() -> GuestMemoryMmap {
        GuestMemoryMmap::from_ranges(&[(GuestAddress(0), 64 << 20)]).expect("guest memory")
    }

    /// A bzImage header whose xz payload is cut short.
    fn corrupt_bzimage() -> Vec<u8> {
        let mut image = vec![0u8; 2 * 512];
        image[0x1f1] = 1;
        image[0x202..0x206].copy_from_slice(b"HdrS");
        image[0x206..0x208].copy_from_slice(&0x020fu16.to_le_bytes());
        let payload = [
            0xfd, b'7', b'z', b'X', b'Z', 0, 0, 4, 0xe6, 0xd6, 0xb4, 0x46,
        ];
        image[0x24c..0x250].copy_from_slice(&(payload.len() as u32 + 4).to_le_bytes());
        image.extend_from_slice(&payload);
        image.extend_from_slice(&(1u32 << 20).to_le_bytes());
        image.extend_from_slice(&[0u8; 64]);
        image
    }

    #[test]
    fn corrupt_payload_is_an_error_naming_the_file() {
        let dir = std::env::temp_dir().join(format!("hangar-kernel-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("vmlinuz-broken");
        std::fs::write(&path, corrupt_bzimage()).expect("kernel file");
        let err = load_kernel(&memory(), &path, true).expect_err("corrupt payload");
        let message = err.to_string();
        assert!(message.contains("vmlinuz-broken"), "{message}");
        assert!(message.contains("xz payload is corrupt"), "{message}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn missing_and_foreign_files_are_errors() {
        let dir = std::env::temp_dir().join(format!("hangar-kernel-f-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let err = load_kernel(&memory(), &dir.join("absent"), true).expect_err("missing");
        assert!(matches!(err, KernelError::Read { .. }), "{err}");
        let text = dir.join("notes.txt");
        std::fs::write(&text, vec![b'x'; 4096]).expect("file");
        let err = load_kernel(&memory(), &text, true).expect_err("not a kernel");
        assert!(err.to_string().contains("is not a bzImage"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// The end of the memory a bzImage loaded at `kernel_load` uses while it
/// unpacks itself: `init_size` bytes from where it runs, its preferred
/// address or its load address if higher (boot protocol 2.10). The initrd
/// must stay above it, and guest memory (ending at `mem_end`) must hold it:
/// otherwise the kernel overwrites its initrd or runs off the end of memory
/// and the guest dies before its first line.
fn unpack_room(
    header: &setup_header,
    kernel_load: u64,
    mem_end: u64,
    name: &str,
) -> Result<u64, KernelError> {
    let start = header.pref_address.max(kernel_load);
    let end = start + u64::from(header.init_size);
    if end > mem_end {
        let mib = |b: u64| b.div_ceil(1 << 20);
        return Err(KernelError::TooLittleMemory {
            path: name.to_string(),
            have_mib: mib(mem_end),
            need_mib: mib(end),
            start,
        });
    }
    Ok(end)
}

#[cfg(test)]
mod unpack_tests {
    use super::*;

    fn header(pref_address: u64, init_size: u32) -> setup_header {
        setup_header {
            pref_address,
            init_size,
            ..Default::default()
        }
    }

    #[test]
    fn the_initrd_goes_above_the_unpacked_kernel() {
        // Debian 6.1: runs at 16 MiB, unpacks over 63.6 MiB.
        let h = header(0x100_0000, 0x3f9_8000);
        assert_eq!(
            unpack_room(&h, 0x10_0000, 256 << 20, "k").expect("fits"),
            0x4f9_8000
        );
        // A kernel loaded above its preferred address runs where it is.
        assert_eq!(
            unpack_room(&h, 0x200_0000, 256 << 20, "k").expect("fits"),
            0x5f9_8000
        );
        // Old kernels give no init_size: nothing more than their image.
        assert_eq!(
            unpack_room(&header(0, 0), 0x10_0000, 16 << 20, "k").expect("fits"),
            0x10_0000
        );
    }

    #[test]
    fn too_little_memory_names_the_sizes() {
        let h = header(0x100_0000, 0x3f9_8000);
        let e = unpack_room(&h, 0x10_0000, 64 << 20, "/k/vmlinuz").expect_err("too small");
        assert_eq!(
            e.to_string(),
            "guest memory (64 MiB) is too small for kernel /k/vmlinuz: it unpacks itself into 80 MiB (from 0x1000000 on)"
        );
    }
}
