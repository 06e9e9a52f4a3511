//! The file's framing: header, sections, end record and checksum; atomic
//! writing (temporary file, fsync, rename, fsync of the folder).

use super::{Checksum, MachineState, SnapshotError};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The first 8 bytes of every snapshot.
pub const MAGIC: [u8; 8] = *b"HANGARVM";
/// The format version this code writes and reads.
pub const FORMAT_VERSION: u32 = 1;

const HEADER_LEN: u64 = 16;
const SECTION_HEADER_LEN: u64 = 16;
const END_PAYLOAD_LEN: u64 = 16;
const END_TAG: u32 = 0xffff_ffff;
/// Largest non-memory section accepted (the domain XML, the state JSON):
/// a damaged length must not make the reader allocate gigabytes.
const MAX_SMALL_SECTION: u64 = 64 << 20;

/// What a section holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SectionKind {
    /// The domain XML.
    Domain,
    /// The machine state (JSON).
    State,
    /// One guest RAM region.
    Memory,
}

impl SectionKind {
    fn tag(self) -> u32 {
        match self {
            SectionKind::Domain => 1,
            SectionKind::State => 2,
            SectionKind::Memory => 3,
        }
    }

    fn from_tag(tag: u32) -> Option<SectionKind> {
        match tag {
            1 => Some(SectionKind::Domain),
            2 => Some(SectionKind::State),
            3 => Some(SectionKind::Memory),
            _ => None,
        }
    }
}

fn shown(path: &Path) -> String {
    path.display().to_string()
}

/// Writes a snapshot to a temporary file next to its destination; the
/// destination appears only when [`SnapshotWriter::finish`] succeeds.
pub struct SnapshotWriter {
    out: BufWriter<File>,
    tmp: PathBuf,
    path: PathBuf,
    crc: Checksum,
    written: u64,
    done: bool,
}

impl SnapshotWriter {
    /// Creates the temporary file and writes the header.
    pub fn create(path: &Path) -> Result<SnapshotWriter, SnapshotError> {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| SnapshotError::Io {
                op: "cannot write",
                path: shown(path),
                source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"),
            })?;
        let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|source| SnapshotError::Io {
                op: "cannot write",
                path: shown(path),
                source,
            })?;
        let mut writer = SnapshotWriter {
            out: BufWriter::with_capacity(1 << 20, file),
            tmp,
            path: path.to_path_buf(),
            crc: Checksum::new(),
            written: 0,
            done: false,
        };
        let mut header = Vec::with_capacity(HEADER_LEN as usize);
        header.extend_from_slice(&MAGIC);
        header.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        header.extend_from_slice(&0u32.to_le_bytes());
        writer.put(&header)?;
        Ok(writer)
    }

    fn io(&self, source: std::io::Error) -> SnapshotError {
        SnapshotError::Io {
            op: "cannot write",
            path: shown(&self.path),
            source,
        }
    }

    /// The destination path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes raw bytes (part of a section begun with [`Self::begin`]).
    pub fn put(&mut self, data: &[u8]) -> Result<(), SnapshotError> {
        self.out.write_all(data).map_err(|e| self.io(e))?;
        self.crc.update(data);
        self.written += data.len() as u64;
        Ok(())
    }

    /// Starts a section of `len` payload bytes; the caller then writes
    /// exactly that many with [`Self::put`].
    pub fn begin(&mut self, kind: SectionKind, len: u64) -> Result<(), SnapshotError> {
        self.begin_tag(kind.tag(), len)
    }

    fn begin_tag(&mut self, tag: u32, len: u64) -> Result<(), SnapshotError> {
        let mut head = [0u8; SECTION_HEADER_LEN as usize];
        head[..4].copy_from_slice(&tag.to_le_bytes());
        head[8..].copy_from_slice(&len.to_le_bytes());
        self.put(&head)
    }

    /// Writes a whole section.
    pub fn section(&mut self, kind: SectionKind, payload: &[u8]) -> Result<(), SnapshotError> {
        self.begin(kind, payload.len() as u64)?;
        self.put(payload)
    }

    /// Writes the end record, syncs the file, renames it into place and
    /// syncs the folder. Returns the file's size.
    pub fn finish(mut self) -> Result<u64, SnapshotError> {
        self.begin_tag(END_TAG, END_PAYLOAD_LEN)?;
        let total = self.written + END_PAYLOAD_LEN;
        let mut end = [0u8; END_PAYLOAD_LEN as usize];
        end[..8].copy_from_slice(&total.to_le_bytes());
        end[8..12].copy_from_slice(&self.crc.value().to_le_bytes());
        self.out.write_all(&end).map_err(|e| self.io(e))?;
        self.out.flush().map_err(|e| self.io(e))?;
        self.out.get_ref().sync_all().map_err(|e| self.io(e))?;
        std::fs::rename(&self.tmp, &self.path).map_err(|e| self.io(e))?;
        self.done = true;
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| self.io(e))?;
        }
        Ok(total)
    }
}

impl Drop for SnapshotWriter {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Reads a snapshot front to back, checking its framing as it goes and
/// its checksum at the end record.
pub struct SnapshotReader {
    input: BufReader<File>,
    path: PathBuf,
    crc: Checksum,
    pos: u64,
    len: u64,
    /// Where the end record starts (everything before it is sections).
    end_at: u64,
}

impl SnapshotReader {
    /// Opens `path` and checks its header and end record.
    pub fn open(path: &Path) -> Result<SnapshotReader, SnapshotError> {
        let io = |source| SnapshotError::Io {
            op: "cannot read",
            path: shown(path),
            source,
        };
        let mut file = File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        let truncated = |detail: String| SnapshotError::Truncated {
            path: shown(path),
            detail,
        };
        let mut header = [0u8; HEADER_LEN as usize];
        let got = read_up_to(&mut file, &mut header).map_err(io)?;
        if got < MAGIC.len() || header[..8] != MAGIC {
            return Err(SnapshotError::NotASnapshot { path: shown(path) });
        }
        if got < header.len() {
            return Err(truncated(format!("the file is only {len} bytes")));
        }
        let version = u32::from_le_bytes([header[8], header[9], header[10], header[11]]);
        if version != FORMAT_VERSION {
            return Err(SnapshotError::Version {
                path: shown(path),
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        let trailer_len = SECTION_HEADER_LEN + END_PAYLOAD_LEN;
        if len < HEADER_LEN + trailer_len {
            return Err(truncated(format!(
                "the file is only {len} bytes, too short for any saved VM"
            )));
        }
        let mut trailer = [0u8; (SECTION_HEADER_LEN + END_PAYLOAD_LEN) as usize];
        file.seek(SeekFrom::Start(len - trailer_len))
            .and_then(|_| file.read_exact(&mut trailer))
            .map_err(io)?;
        let tag = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
        let stated = u64::from_le_bytes(trailer[16..24].try_into().unwrap_or([0; 8]));
        if tag != END_TAG || stated != len {
            return Err(truncated(format!(
                "no end record at the end of its {len} bytes (the save was cut short or the \
                 file was cut)"
            )));
        }
        file.seek(SeekFrom::Start(HEADER_LEN)).map_err(io)?;
        let mut crc = Checksum::new();
        crc.update(&header);
        Ok(SnapshotReader {
            input: BufReader::with_capacity(1 << 20, file),
            path: path.to_path_buf(),
            crc,
            pos: HEADER_LEN,
            len,
            end_at: len - trailer_len,
        })
    }

    /// The file's size.
    pub fn file_len(&self) -> u64 {
        self.len
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A "damaged" error about this file.
    pub fn corrupt(&self, detail: impl Into<String>) -> SnapshotError {
        SnapshotError::Corrupt {
            path: shown(&self.path),
            detail: detail.into(),
        }
    }

    /// Reads exactly `buf.len()` bytes of section payload.
    pub fn read(&mut self, buf: &mut [u8]) -> Result<(), SnapshotError> {
        let n = buf.len() as u64;
        if self.pos.saturating_add(n) > self.len {
            return Err(SnapshotError::Truncated {
                path: shown(&self.path),
                detail: format!(
                    "a section runs past the end of the file at byte {}",
                    self.pos
                ),
            });
        }
        self.input
            .read_exact(buf)
            .map_err(|source| SnapshotError::Io {
                op: "cannot read",
                path: shown(&self.path),
                source,
            })?;
        self.crc.update(buf);
        self.pos += n;
        Ok(())
    }

    /// Reads the next section header: `None` at the end record, whose
    /// checksum is then verified.
    pub fn next_section(&mut self) -> Result<Option<(SectionKind, u64)>, SnapshotError> {
        if self.pos == self.end_at {
            let mut head = [0u8; SECTION_HEADER_LEN as usize];
            self.read(&mut head)?;
            let computed = self.crc.value();
            let mut end = [0u8; END_PAYLOAD_LEN as usize];
            self.input
                .read_exact(&mut end)
                .map_err(|source| SnapshotError::Io {
                    op: "cannot read",
                    path: shown(&self.path),
                    source,
                })?;
            let stored = u32::from_le_bytes([end[8], end[9], end[10], end[11]]);
            if stored != computed {
                return Err(SnapshotError::Checksum {
                    path: shown(&self.path),
                    stored,
                    computed,
                });
            }
            return Ok(None);
        }
        let mut head = [0u8; SECTION_HEADER_LEN as usize];
        self.read(&mut head)?;
        let tag = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
        let len = u64::from_le_bytes(head[8..16].try_into().unwrap_or([0; 8]));
        let kind = SectionKind::from_tag(tag).ok_or_else(|| {
            self.corrupt(format!("unknown section {tag:#x} at byte {}", self.pos))
        })?;
        if self.pos.saturating_add(len) > self.end_at {
            return Err(SnapshotError::Truncated {
                path: shown(&self.path),
                detail: format!(
                    "a section of {len} bytes at byte {} runs past the end record",
                    self.pos
                ),
            });
        }
        Ok(Some((kind, len)))
    }

    fn expect(&mut self, want: SectionKind) -> Result<Vec<u8>, SnapshotError> {
        match self.next_section()? {
            Some((kind, len)) if kind == want => {
                if len > MAX_SMALL_SECTION {
                    return Err(self.corrupt(format!("a {want:?} section of {len} bytes")));
                }
                let mut buf = vec![0u8; len as usize];
                self.read(&mut buf)?;
                Ok(buf)
            }
            Some((kind, _)) => {
                Err(self.corrupt(format!("{kind:?} section where {want:?} belongs")))
            }
            None => Err(self.corrupt(format!("no {want:?} section"))),
        }
    }

    /// The first section: the domain XML.
    pub fn domain_xml(&mut self) -> Result<String, SnapshotError> {
        let bytes = self.expect(SectionKind::Domain)?;
        String::from_utf8(bytes).map_err(|_| self.corrupt("the domain XML is not UTF-8"))
    }

    /// The second section: the machine state.
    pub fn machine_state(&mut self) -> Result<MachineState, SnapshotError> {
        let bytes = self.expect(SectionKind::State)?;
        serde_json::from_slice(&bytes)
            .map_err(|e| self.corrupt(format!("the machine state cannot be decoded: {e}")))
    }

    /// Reads the memory sections without keeping them, up to and including
    /// the end record (checking the checksum).
    pub fn skip_memory(&mut self) -> Result<(), SnapshotError> {
        let mut buf = vec![0u8; 1 << 20];
        while let Some((kind, mut len)) = self.next_section()? {
            if kind != SectionKind::Memory {
                return Err(self.corrupt(format!("{kind:?} section among the memory")));
            }
            while len > 0 {
                let n = len.min(buf.len() as u64) as usize;
                self.read(&mut buf[..n])?;
                len -= n as u64;
            }
        }
        Ok(())
    }
}

/// Reads as much of `buf` as the file has.
fn read_up_to(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match file.read(&mut buf[got..])? {
            0 => break,
            n => got += n,
        }
    }
    Ok(got)
}
