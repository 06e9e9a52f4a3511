//! One folder of definitions (`domains/`, `networks/`, `pools/`) and its
//! autostart markers, kept in memory and re-read when a file changes.
//!
//! A file is re-read only when its identity (inode, size, modification
//! time) changes, so syncing before every command and on every poll is a
//! `readdir` and a `stat` per file. A file that does not parse, or whose
//! `<name>` is not its file name, is reported and left exactly as it is.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::atomic::{remove_durable, write_atomic};
use crate::api::{ApiError, StoreProblem};
use crate::backend::definition::edit::uuid_of;
use crate::xml::{Element, XmlError};

/// Mode of definition files: they may hold secrets such as VNC passwords.
const DEFINITION_MODE: u32 = 0o600;

/// Checks a definition's text with the typed model.
pub type Validator = fn(&str) -> Result<(), XmlError>;

/// What identifies one version of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fingerprint {
    ino: u64,
    size: u64,
    mtime_ns: i128,
}

impl Fingerprint {
    fn of(meta: &std::fs::Metadata) -> Self {
        Fingerprint {
            ino: meta.ino(),
            size: meta.size(),
            mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
        }
    }
}

/// A definition loaded from its file.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The definition.
    pub xml: Element,
    /// Its UUID (lower-case, dashes).
    pub uuid: String,
    fingerprint: Fingerprint,
}

/// A change seen in the folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A new definition.
    Defined(String),
    /// A definition or its autostart flag changed.
    Changed(String),
    /// A definition went away.
    Undefined(String),
    /// A file could not be loaded.
    Problem(StoreProblem),
}

/// The definitions of one kind.
#[derive(Debug)]
pub struct Catalog {
    root: &'static str,
    dir: PathBuf,
    autostart_dir: PathBuf,
    validate: Validator,
    entries: BTreeMap<String, Entry>,
    autostart: BTreeSet<String>,
    problems: BTreeMap<PathBuf, (Fingerprint, String)>,
}

fn io_err(op: &str, path: &Path, e: &io::Error) -> ApiError {
    ApiError::io(op, path, e)
}

impl Catalog {
    /// A catalog of `root` (the element name, e.g. "domain") in `dir`.
    pub fn new(
        root: &'static str,
        dir: PathBuf,
        autostart_dir: PathBuf,
        validate: Validator,
    ) -> Self {
        Catalog {
            root,
            dir,
            autostart_dir,
            validate,
            entries: BTreeMap::new(),
            autostart: BTreeSet::new(),
            problems: BTreeMap::new(),
        }
    }

    /// The folder of definition files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Creates the folders if needed.
    pub fn create_dirs(&self) -> Result<(), ApiError> {
        for d in [&self.dir, &self.autostart_dir] {
            std::fs::create_dir_all(d).map_err(|e| io_err("cannot create directory", d, &e))?;
        }
        Ok(())
    }

    fn file_of(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.xml"))
    }

    /// Loaded definitions by name.
    pub fn entries(&self) -> &BTreeMap<String, Entry> {
        &self.entries
    }

    /// The definition called `name`.
    pub fn get(&self, name: &str) -> Option<&Entry> {
        self.entries.get(name)
    }

    /// The name of the definition with `uuid`.
    pub fn name_by_uuid(&self, uuid: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(_, e)| e.uuid == uuid)
            .map(|(n, _)| n.as_str())
    }

    /// Whether `name` autostarts.
    pub fn autostart(&self, name: &str) -> bool {
        self.autostart.contains(name)
    }

    /// Files that could not be loaded.
    pub fn problems(&self) -> Vec<StoreProblem> {
        self.problems
            .iter()
            .map(|(p, (_, m))| StoreProblem {
                path: p.display().to_string(),
                message: m.clone(),
            })
            .collect()
    }

    /// Re-reads what changed on disk and returns the changes.
    pub fn sync(&mut self) -> Result<Vec<Change>, ApiError> {
        let mut changes = Vec::new();
        let mut seen = BTreeSet::new();
        let listing = match std::fs::read_dir(&self.dir) {
            Ok(l) => l,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(self.forget_all());
            }
            Err(e) => return Err(io_err("cannot read directory", &self.dir, &e)),
        };
        for item in listing {
            let item = item.map_err(|e| io_err("cannot read directory", &self.dir, &e))?;
            let file_name = item.file_name().to_string_lossy().into_owned();
            let Some(name) = file_name.strip_suffix(".xml") else {
                continue;
            };
            if name.is_empty() || file_name.starts_with('.') {
                continue;
            }
            let path = item.path();
            let meta = match std::fs::metadata(&path) {
                Ok(m) if m.is_file() => m,
                // Removed between listing and stat, or not a file: not a definition.
                _ => continue,
            };
            let fingerprint = Fingerprint::of(&meta);
            seen.insert(name.to_string());
            if self.entries.get(name).map(|e| e.fingerprint) == Some(fingerprint) {
                continue;
            }
            if self.problems.get(&path).map(|(f, _)| *f) == Some(fingerprint) {
                continue;
            }
            match self.load(name, &path) {
                Ok(mut entry) => {
                    entry.fingerprint = fingerprint;
                    self.problems.remove(&path);
                    let change = if self.entries.contains_key(name) {
                        Change::Changed(name.to_string())
                    } else {
                        Change::Defined(name.to_string())
                    };
                    self.entries.insert(name.to_string(), entry);
                    changes.push(change);
                }
                Err(message) => {
                    if self.entries.remove(name).is_some() {
                        changes.push(Change::Undefined(name.to_string()));
                    }
                    self.problems
                        .insert(path.clone(), (fingerprint, message.clone()));
                    changes.push(Change::Problem(StoreProblem {
                        path: path.display().to_string(),
                        message,
                    }));
                }
            }
        }
        let gone: Vec<String> = self
            .entries
            .keys()
            .filter(|n| !seen.contains(*n))
            .cloned()
            .collect();
        for name in gone {
            self.entries.remove(&name);
            changes.push(Change::Undefined(name));
        }
        self.problems.retain(|p, _| {
            p.file_stem()
                .is_some_and(|s| seen.contains(&*s.to_string_lossy()))
        });
        changes.extend(self.sync_autostart()?);
        Ok(changes)
    }

    fn forget_all(&mut self) -> Vec<Change> {
        let names: Vec<String> = self.entries.keys().cloned().collect();
        self.entries.clear();
        self.problems.clear();
        names.into_iter().map(Change::Undefined).collect()
    }

    fn sync_autostart(&mut self) -> Result<Vec<Change>, ApiError> {
        let mut now = BTreeSet::new();
        match std::fs::read_dir(&self.autostart_dir) {
            Ok(listing) => {
                for item in listing.flatten() {
                    let n = item.file_name().to_string_lossy().into_owned();
                    if !n.starts_with('.') {
                        now.insert(n);
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("cannot read directory", &self.autostart_dir, &e)),
        }
        let changed: Vec<Change> = now
            .symmetric_difference(&self.autostart)
            .filter(|n| self.entries.contains_key(*n))
            .map(|n| Change::Changed(n.clone()))
            .collect();
        self.autostart = now;
        Ok(changed)
    }

    /// Reads and checks one file; the error text says why it was not loaded.
    fn load(&self, name: &str, path: &Path) -> Result<Entry, String> {
        let text = std::fs::read_to_string(path).map_err(|e| crate::api::io_message(&e))?;
        (self.validate)(&text).map_err(|e| e.to_string())?;
        let xml = crate::xml::parse_root(&text, self.root).map_err(|e| e.to_string())?;
        let inner = xml.child_text("name").unwrap_or_default();
        if inner != name {
            return Err(format!(
                "the definition is named '{inner}' but its file is named '{name}.xml'"
            ));
        }
        let uuid = uuid_of(&xml).ok_or_else(|| "the definition has no valid <uuid>".to_string())?;
        Ok(Entry {
            xml,
            uuid,
            fingerprint: Fingerprint {
                ino: 0,
                size: 0,
                mtime_ns: 0,
            },
        })
    }

    /// Writes a definition (already checked and canonical) atomically.
    pub fn put(&mut self, name: &str, canonical_xml: &str) -> Result<(), ApiError> {
        let path = self.file_of(name);
        write_atomic(&path, canonical_xml.as_bytes(), DEFINITION_MODE)
            .map_err(|e| io_err("cannot write file", &path, &e))?;
        let meta = std::fs::metadata(&path).map_err(|e| io_err("cannot stat file", &path, &e))?;
        let xml = crate::xml::parse_root(canonical_xml, self.root)?;
        let uuid = uuid_of(&xml).unwrap_or_default();
        self.problems.remove(&path);
        self.entries.insert(
            name.to_string(),
            Entry {
                xml,
                uuid,
                fingerprint: Fingerprint::of(&meta),
            },
        );
        Ok(())
    }

    /// Removes a definition and its autostart marker.
    pub fn remove(&mut self, name: &str) -> Result<(), ApiError> {
        self.set_autostart(name, false)?;
        let path = self.file_of(name);
        remove_durable(&path).map_err(|e| io_err("cannot remove file", &path, &e))?;
        self.entries.remove(name);
        Ok(())
    }

    /// Sets or clears the autostart marker.
    pub fn set_autostart(&mut self, name: &str, enabled: bool) -> Result<(), ApiError> {
        let marker = self.autostart_dir.join(name);
        if enabled {
            write_atomic(&marker, b"", 0o644)
                .map_err(|e| io_err("cannot write file", &marker, &e))?;
            self.autostart.insert(name.to_string());
        } else {
            remove_durable(&marker).map_err(|e| io_err("cannot remove file", &marker, &e))?;
            self.autostart.remove(name);
        }
        Ok(())
    }
}
