//! Pool types and the rules libvirt attaches to each: which parts of
//! `<source>` matter, which source and volume formats exist, and whether the
//! pool has a local `<target>`.

use std::fmt;

use crate::xml::XmlError;

/// The `type` attribute of `<pool>`: which backend manages the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PoolType {
    /// A directory of image files.
    Dir,
    /// A local block device holding a file system mounted on the target.
    Fs,
    /// A network file system (NFS, GlusterFS, CIFS) mounted on the target.
    Netfs,
    /// An LVM volume group.
    Logical,
    /// A partitioned disk; volumes are partitions.
    Disk,
    /// An iSCSI target logged in through the host's initiator.
    Iscsi,
    /// An iSCSI target reached directly by QEMU (libiscsi), no host login.
    IscsiDirect,
    /// A SCSI host adapter (scsi_host or fc_host).
    Scsi,
    /// Multipath devices under `/dev/mapper`.
    Mpath,
    /// A Ceph RBD pool.
    Rbd,
    /// A GlusterFS volume reached through libgfapi.
    Gluster,
    /// A ZFS pool.
    Zfs,
    /// A Virtuozzo storage cluster.
    Vstorage,
}

/// Which parts of `<source>` a pool type uses (libvirt's
/// `VIR_STORAGE_POOL_SOURCE_*` flags).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SourceParts {
    /// `<host>` is required and written.
    pub host: bool,
    /// `<device>` is written (and required when it is the only part).
    pub device: bool,
    /// `<dir>` is required and written.
    pub dir: bool,
    /// `<adapter>` is required and written.
    pub adapter: bool,
    /// `<name>` is written, defaulting to the pool name.
    pub name: bool,
    /// `<initiator><iqn>` is written.
    pub initiator_iqn: bool,
    /// The pool is reached over the network and has no local `<target>`.
    pub network: bool,
}

/// Volume image formats of file-based pools, in libvirt's order (its
/// `virStorageFileFormat` without `none`).
pub const FILE_VOLUME_FORMATS: &[&str] = &[
    "raw", "dir", "bochs", "cloop", "dmg", "iso", "vpc", "vdi", "fat", "vhd", "ploop", "cow",
    "qcow", "qcow2", "qed", "vmdk",
];

/// Partition types of volumes in a `disk` pool.
pub const DISK_VOLUME_FORMATS: &[&str] = &[
    "none",
    "linux",
    "fat16",
    "fat32",
    "linux-swap",
    "linux-lvm",
    "linux-raid",
    "extended",
];

const FS_FORMATS: &[&str] = &[
    "auto", "ext2", "ext3", "ext4", "ufs", "iso9660", "udf", "gfs", "gfs2", "vfat", "hfs+", "xfs",
    "ocfs2", "vmfs",
];
const NETFS_FORMATS: &[&str] = &["auto", "nfs", "glusterfs", "cifs"];
const DISK_FORMATS: &[&str] = &[
    "unknown", "dos", "dvh", "gpt", "mac", "bsd", "pc98", "sun", "lvm2",
];
const LOGICAL_FORMATS: &[&str] = &["unknown", "lvm2"];

/// A closed list of format names with the one libvirt fills in when none is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FormatChoice {
    /// Accepted names.
    pub names: &'static [&'static str],
    /// The default when the document has no `<format>`.
    pub default: &'static str,
}

impl FormatChoice {
    /// Checks `name` against the list; the error names what was being read.
    pub fn check(&self, what: &str, name: &str) -> Result<String, XmlError> {
        if self.names.contains(&name) {
            Ok(name.to_string())
        } else {
            Err(XmlError::invalid(
                what,
                name,
                format!(
                    "unknown format type (expected one of {})",
                    self.names.join(", ")
                ),
            ))
        }
    }
}

impl PoolType {
    /// Every pool type, in libvirt's order.
    pub const ALL: [PoolType; 13] = [
        PoolType::Dir,
        PoolType::Fs,
        PoolType::Netfs,
        PoolType::Logical,
        PoolType::Disk,
        PoolType::Iscsi,
        PoolType::IscsiDirect,
        PoolType::Scsi,
        PoolType::Mpath,
        PoolType::Rbd,
        PoolType::Gluster,
        PoolType::Zfs,
        PoolType::Vstorage,
    ];

    /// The name used in the `type` attribute.
    pub fn as_str(self) -> &'static str {
        match self {
            PoolType::Dir => "dir",
            PoolType::Fs => "fs",
            PoolType::Netfs => "netfs",
            PoolType::Logical => "logical",
            PoolType::Disk => "disk",
            PoolType::Iscsi => "iscsi",
            PoolType::IscsiDirect => "iscsi-direct",
            PoolType::Scsi => "scsi",
            PoolType::Mpath => "mpath",
            PoolType::Rbd => "rbd",
            PoolType::Gluster => "gluster",
            PoolType::Zfs => "zfs",
            PoolType::Vstorage => "vstorage",
        }
    }

    /// Parses a `type` attribute value.
    pub fn from_name(name: &str) -> Result<PoolType, XmlError> {
        PoolType::ALL
            .into_iter()
            .find(|t| t.as_str() == name)
            .ok_or_else(|| XmlError::invalid("pool type", name, "unknown storage pool type"))
    }

    /// The parts of `<source>` this pool type uses.
    pub fn source_parts(self) -> SourceParts {
        let none = SourceParts::default();
        match self {
            PoolType::Dir | PoolType::Mpath => none,
            PoolType::Logical | PoolType::Zfs => SourceParts {
                name: true,
                device: true,
                ..none
            },
            PoolType::Fs | PoolType::Disk => SourceParts {
                device: true,
                ..none
            },
            PoolType::Netfs => SourceParts {
                host: true,
                dir: true,
                ..none
            },
            PoolType::Iscsi => SourceParts {
                host: true,
                device: true,
                initiator_iqn: true,
                ..none
            },
            PoolType::IscsiDirect => SourceParts {
                host: true,
                device: true,
                network: true,
                initiator_iqn: true,
                ..none
            },
            PoolType::Scsi => SourceParts {
                adapter: true,
                ..none
            },
            PoolType::Rbd => SourceParts {
                host: true,
                network: true,
                name: true,
                ..none
            },
            PoolType::Gluster => SourceParts {
                host: true,
                network: true,
                name: true,
                dir: true,
                ..none
            },
            PoolType::Vstorage => SourceParts { name: true, ..none },
        }
    }

    /// True when the pool has a local `<target>` (every type not reached
    /// over the network).
    pub fn has_target(self) -> bool {
        !self.source_parts().network
    }

    /// The `<source><format>` names of this pool type, if it has any.
    pub fn source_formats(self) -> Option<FormatChoice> {
        let (names, default) = match self {
            PoolType::Fs => (FS_FORMATS, "auto"),
            PoolType::Netfs => (NETFS_FORMATS, "auto"),
            PoolType::Disk => (DISK_FORMATS, "unknown"),
            PoolType::Logical => (LOGICAL_FORMATS, "lvm2"),
            _ => return None,
        };
        Some(FormatChoice { names, default })
    }

    /// The volume `<format>` names of this pool type, if its volumes have one.
    pub fn volume_formats(self) -> Option<FormatChoice> {
        match self {
            PoolType::Dir
            | PoolType::Fs
            | PoolType::Netfs
            | PoolType::Rbd
            | PoolType::Gluster
            | PoolType::Vstorage => Some(FormatChoice {
                names: FILE_VOLUME_FORMATS,
                default: "raw",
            }),
            PoolType::Disk => Some(FormatChoice {
                names: DISK_VOLUME_FORMATS,
                default: "none",
            }),
            _ => None,
        }
    }
}

impl fmt::Display for PoolType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for PoolType {
    type Err = XmlError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PoolType::from_name(s)
    }
}
