//! The qcow2 header: read it for probing, and the few edits imago does not make
//! (lazy refcounts, a version 2 "compat 0.10" header).
//!
//! Layout from QEMU's `docs/interop/qcow2.txt`; all fields are big-endian.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::error::{Result, StorageError};

/// "QFI\xfb": the first four bytes of every qcow2 image.
pub(crate) const MAGIC: [u8; 4] = *b"QFI\xfb";
/// Length of a version 2 header (and of the version 2 fields of version 3).
const V2_HEADER_LEN: usize = 72;
/// Smallest version 3 header.
const V3_MIN_HEADER_LEN: u32 = 104;
/// Byte offset of the compatible feature bits (version 3).
const COMPATIBLE_FEATURES_OFFSET: u64 = 80;
/// Compatible feature bit 0.
const LAZY_REFCOUNTS_BIT: u64 = 1;
/// Incompatible feature bit 2: guest data lives in an external file.
const EXTERNAL_DATA_FILE_BIT: u64 = 1 << 2;
/// Header extension: backing file format name.
const EXT_BACKING_FORMAT: u32 = 0xe279_2aca;
/// qemu refuses longer backing file names.
pub(crate) const MAX_BACKING_NAME: usize = 1023;
/// Longest backing chain followed (qemu's image open recursion stops near here too).
const MAX_CHAIN_DEPTH: usize = 32;
/// Smallest and largest cluster sizes (as bit counts) the format allows.
pub(crate) const CLUSTER_BITS: std::ops::RangeInclusive<u32> = 9..=21;

/// The fields of a qcow2 header that Hangar reads or rewrites.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    pub version: u32,
    pub cluster_bits: u32,
    pub size: u64,
    pub crypt_method: u32,
    pub l1_size: u32,
    pub l1_table_offset: u64,
    pub refcount_table_offset: u64,
    pub refcount_table_clusters: u32,
    pub nb_snapshots: u32,
    pub snapshots_offset: u64,
    pub incompatible_features: u64,
    pub compatible_features: u64,
    pub refcount_order: u32,
    pub backing_file: Option<String>,
    pub backing_format: Option<String>,
}

fn be32(buf: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&buf[at..at + 4]);
    u32::from_be_bytes(b)
}

fn be64(buf: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&buf[at..at + 8]);
    u64::from_be_bytes(b)
}

impl Header {
    /// Cluster size in bytes.
    pub fn cluster_size(&self) -> u32 {
        1 << self.cluster_bits
    }

    /// Whether the lazy refcounts feature is set.
    pub fn lazy_refcounts(&self) -> bool {
        self.compatible_features & LAZY_REFCOUNTS_BIT != 0
    }

    /// "0.10" or "1.1", as qemu names the versions.
    pub fn compat(&self) -> &'static str {
        if self.version == 2 {
            "0.10"
        } else {
            "1.1"
        }
    }

    /// Reads and checks the header of the qcow2 image `file` (already known to start with the magic).
    pub fn read(file: &File, path: &Path) -> Result<Header> {
        let bad = |reason: String| StorageError::BadImage {
            path: path.to_path_buf(),
            reason,
        };
        let file_len = file
            .metadata()
            .map_err(|e| StorageError::io(path, "cannot stat volume", e))?
            .len();
        let mut fixed = [0u8; V3_MIN_HEADER_LEN as usize];
        let fixed_len = (file_len.min(fixed.len() as u64)) as usize;
        if fixed_len < V2_HEADER_LEN {
            return Err(bad(format!("file is only {file_len} bytes long")));
        }
        file.read_exact_at(&mut fixed[..fixed_len], 0)
            .map_err(|e| StorageError::io(path, "cannot read qcow2 header", e))?;
        if fixed[..4] != MAGIC {
            return Err(bad("missing qcow2 magic".to_string()));
        }
        let version = be32(&fixed, 4);
        if version != 2 && version != 3 {
            return Err(bad(format!("unsupported qcow2 version {version}")));
        }
        let cluster_bits = be32(&fixed, 20);
        if !CLUSTER_BITS.contains(&cluster_bits) {
            return Err(bad(format!("invalid cluster bits {cluster_bits}")));
        }
        let mut header = Header {
            version,
            cluster_bits,
            size: be64(&fixed, 24),
            crypt_method: be32(&fixed, 32),
            l1_size: be32(&fixed, 36),
            l1_table_offset: be64(&fixed, 40),
            refcount_table_offset: be64(&fixed, 48),
            refcount_table_clusters: be32(&fixed, 56),
            nb_snapshots: be32(&fixed, 60),
            snapshots_offset: be64(&fixed, 64),
            incompatible_features: 0,
            compatible_features: 0,
            refcount_order: 4,
            backing_file: None,
            backing_format: None,
        };
        let header_len = if version == 3 {
            if fixed_len < V3_MIN_HEADER_LEN as usize {
                return Err(bad("version 3 header is truncated".to_string()));
            }
            header.incompatible_features = be64(&fixed, 72);
            header.compatible_features = be64(&fixed, 80);
            header.refcount_order = be32(&fixed, 96);
            let len = be32(&fixed, 100);
            if len < V3_MIN_HEADER_LEN || len % 8 != 0 || len > header.cluster_size() {
                return Err(bad(format!("invalid header length {len}")));
            }
            len as usize
        } else {
            V2_HEADER_LEN
        };
        if header.refcount_order > 6 {
            return Err(bad(format!(
                "invalid refcount order {}",
                header.refcount_order
            )));
        }
        if header.incompatible_features & EXTERNAL_DATA_FILE_BIT != 0 {
            return Err(bad("external data files are not supported".to_string()));
        }

        header.check_tables(file_len).map_err(bad)?;

        // Header extensions follow the header, inside the first cluster.
        let cluster_end = (header.cluster_size() as u64).min(file_len) as usize;
        let mut cluster = vec![0u8; cluster_end];
        file.read_exact_at(&mut cluster, 0)
            .map_err(|e| StorageError::io(path, "cannot read qcow2 header", e))?;
        let mut at = header_len;
        while at + 8 <= cluster.len() {
            let kind = be32(&cluster, at);
            let len = be32(&cluster, at + 4) as usize;
            at += 8;
            if kind == 0 {
                break;
            }
            let Some(data) = cluster.get(at..at + len) else {
                return Err(bad(
                    "header extension runs past the first cluster".to_string()
                ));
            };
            if kind == EXT_BACKING_FORMAT {
                header.backing_format = Some(String::from_utf8_lossy(data).into_owned());
            }
            at += len.div_ceil(8) * 8;
        }

        let backing_offset = be64(&fixed, 8);
        let backing_len = be32(&fixed, 16) as usize;
        if backing_offset != 0 && backing_len != 0 {
            if backing_len > MAX_BACKING_NAME {
                return Err(bad(format!(
                    "backing file name of {backing_len} bytes is too long"
                )));
            }
            let fits = backing_offset
                .checked_add(backing_len as u64)
                .is_some_and(|end| end <= file_len);
            if !fits {
                return Err(bad(
                    "backing file name lies past the end of the file".to_string()
                ));
            }
            let mut name = vec![0u8; backing_len];
            file.read_exact_at(&mut name, backing_offset)
                .map_err(|e| StorageError::io(path, "cannot read qcow2 header", e))?;
            header.backing_file = Some(String::from_utf8_lossy(&name).into_owned());
        }
        Ok(header)
    }

    /// The backing file of the image at `path`, resolved as qemu does: a
    /// relative name is relative to the image's directory.
    pub fn backing_path(&self, path: &Path) -> Option<std::path::PathBuf> {
        let backing = Path::new(self.backing_file.as_ref()?);
        Some(match path.parent() {
            Some(dir) if backing.is_relative() => dir.join(backing),
            _ => backing.to_path_buf(),
        })
    }

    /// Walks the backing chain of the image at `path` before anything opens
    /// it: fails with [`StorageError::BackingNotFound`] if a link is missing,
    /// and refuses chains that loop or are deeper than qemu would follow.
    pub fn check_backing_chain(&self, path: &Path) -> Result<()> {
        let canonical = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
        let mut seen = vec![canonical(path)];
        let mut image = path.to_path_buf();
        let mut header = self.clone();
        while let (Some(name), Some(resolved)) =
            (header.backing_file.clone(), header.backing_path(&image))
        {
            if seen.len() > MAX_CHAIN_DEPTH {
                return Err(StorageError::BadImage {
                    path: path.to_path_buf(),
                    reason: format!("backing chain is deeper than {MAX_CHAIN_DEPTH} images"),
                });
            }
            let file = std::fs::File::open(&resolved).map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    StorageError::BackingNotFound {
                        path: image.clone(),
                        backing: PathBuf::from(&name),
                    }
                } else {
                    StorageError::io_raw(&resolved, "cannot open backing file", e)
                }
            })?;
            let here = canonical(&resolved);
            if seen.contains(&here) {
                return Err(StorageError::BadImage {
                    path: path.to_path_buf(),
                    reason: format!("backing chain loops back to '{}'", here.display()),
                });
            }
            seen.push(here);
            if header.backing_format.as_deref() == Some("raw") {
                return Ok(());
            }
            let mut magic = [0u8; 4];
            if file.read_exact_at(&mut magic, 0).is_err() || magic != MAGIC {
                return Ok(());
            }
            header = Header::read(&file, &resolved)?;
            image = resolved;
        }
        Ok(())
    }

    /// Checks that the L1 and refcount tables are aligned, inside the file and
    /// large enough, as qemu does before trusting them. A damaged header must
    /// be refused here: the qcow2 code would otherwise allocate through bogus
    /// tables.
    fn check_tables(&self, file_len: u64) -> std::result::Result<(), String> {
        let cluster = u64::from(self.cluster_size());
        let within =
            |offset: u64, len: u64| offset.checked_add(len).is_some_and(|end| end <= file_len);
        if self.refcount_table_offset % cluster != 0 || self.refcount_table_offset == 0 {
            return Err(format!(
                "refcount table offset {:#x} is not a cluster boundary",
                self.refcount_table_offset
            ));
        }
        if self.refcount_table_clusters == 0
            || !within(
                self.refcount_table_offset,
                u64::from(self.refcount_table_clusters) * cluster,
            )
        {
            return Err("refcount table lies outside the file".to_string());
        }
        let entries_per_l2 = cluster / 8;
        let needed_l1 = self.size.div_ceil(cluster * entries_per_l2);
        if u64::from(self.l1_size) < needed_l1 {
            return Err(format!(
                "L1 table of {} entries is too small for {} bytes",
                self.l1_size, self.size
            ));
        }
        if self.l1_size > 0 {
            if self.l1_table_offset % cluster != 0 || self.l1_table_offset == 0 {
                return Err(format!(
                    "L1 table offset {:#x} is not a cluster boundary",
                    self.l1_table_offset
                ));
            }
            if !within(self.l1_table_offset, u64::from(self.l1_size) * 8) {
                return Err("L1 table lies outside the file".to_string());
            }
        }
        Ok(())
    }

    /// Sets the lazy refcounts bit in place (version 3 images only).
    pub fn write_lazy_refcounts(&mut self, file: &File, path: &Path) -> Result<()> {
        if self.version < 3 {
            return Err(StorageError::Unsupported {
                path: path.to_path_buf(),
                reason: "lazy refcounts need compat 1.1".to_string(),
            });
        }
        self.compatible_features |= LAZY_REFCOUNTS_BIT;
        file.write_all_at(
            &self.compatible_features.to_be_bytes(),
            COMPATIBLE_FEATURES_OFFSET,
        )
        .map_err(|e| StorageError::io(path, "cannot write qcow2 header", e))
    }

    /// Rewrites the first cluster as a version 2 (compat 0.10) header with the
    /// same layout, backing file and backing format.
    pub fn write_as_v2(&mut self, file: &File, path: &Path) -> Result<()> {
        let unsupported = |reason: &str| StorageError::Unsupported {
            path: path.to_path_buf(),
            reason: reason.to_string(),
        };
        if self.refcount_order != 4 {
            return Err(unsupported("compat 0.10 needs 16-bit refcounts"));
        }
        if self.incompatible_features != 0 || self.compatible_features != 0 {
            return Err(unsupported("compat 0.10 cannot carry feature bits"));
        }
        let mut buf = vec![0u8; V2_HEADER_LEN];
        buf[..4].copy_from_slice(&MAGIC);
        buf[4..8].copy_from_slice(&2u32.to_be_bytes());
        buf[20..24].copy_from_slice(&self.cluster_bits.to_be_bytes());
        buf[24..32].copy_from_slice(&self.size.to_be_bytes());
        buf[32..36].copy_from_slice(&self.crypt_method.to_be_bytes());
        buf[36..40].copy_from_slice(&self.l1_size.to_be_bytes());
        buf[40..48].copy_from_slice(&self.l1_table_offset.to_be_bytes());
        buf[48..56].copy_from_slice(&self.refcount_table_offset.to_be_bytes());
        buf[56..60].copy_from_slice(&self.refcount_table_clusters.to_be_bytes());
        buf[60..64].copy_from_slice(&self.nb_snapshots.to_be_bytes());
        buf[64..72].copy_from_slice(&self.snapshots_offset.to_be_bytes());
        if let Some(format) = &self.backing_format {
            buf.extend_from_slice(&EXT_BACKING_FORMAT.to_be_bytes());
            buf.extend_from_slice(&(format.len() as u32).to_be_bytes());
            buf.extend_from_slice(format.as_bytes());
            buf.resize(buf.len().div_ceil(8) * 8, 0);
        }
        buf.extend_from_slice(&[0u8; 8]); // end of extensions
        if let Some(name) = &self.backing_file {
            let offset = buf.len() as u64;
            buf[8..16].copy_from_slice(&offset.to_be_bytes());
            buf[16..20].copy_from_slice(&(name.len() as u32).to_be_bytes());
            buf.extend_from_slice(name.as_bytes());
        }
        let cluster = self.cluster_size() as usize;
        if buf.len() > cluster {
            return Err(unsupported("header does not fit in one cluster"));
        }
        // Clear the rest of the cluster so no trace of the version 3 extensions remains.
        buf.resize(cluster, 0);
        file.write_all_at(&buf, 0)
            .map_err(|e| StorageError::io(path, "cannot write qcow2 header", e))?;
        self.version = 2;
        Ok(())
    }
}
