//! The one error type every command can return, worded like libvirt's
//! messages so that `hangarctl` prints what virsh would.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::xml::XmlError;

/// The kind of object a command names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    /// A virtual machine.
    Domain,
    /// A virtual network.
    Network,
    /// A storage pool.
    Pool,
    /// A storage volume.
    Volume,
}

impl ObjectKind {
    /// The noun libvirt uses in messages ("domain", "network", "storage pool", "storage vol").
    pub fn noun(self) -> &'static str {
        match self {
            ObjectKind::Domain => "domain",
            ObjectKind::Network => "network",
            ObjectKind::Pool => "storage pool",
            ObjectKind::Volume => "storage vol",
        }
    }

    /// The error class libvirt prefixes a not-found message with.
    fn not_found_class(self) -> &'static str {
        match self {
            ObjectKind::Domain => "Domain not found",
            ObjectKind::Network => "Network not found",
            ObjectKind::Pool => "Storage pool not found",
            ObjectKind::Volume => "Storage volume not found",
        }
    }
}

/// How an object was looked up, for the not-found message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LookupKey {
    /// By name.
    Name,
    /// By UUID.
    Uuid,
    /// By running domain id.
    Id,
    /// By volume path.
    Path,
    /// By volume key.
    Key,
}

impl LookupKey {
    fn word(self) -> &'static str {
        match self {
            LookupKey::Name => "name",
            LookupKey::Uuid => "uuid",
            LookupKey::Id => "id",
            LookupKey::Path => "path",
            LookupKey::Key => "key",
        }
    }
}

/// Why a command failed.
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize, Deserialize)]
pub enum ApiError {
    /// No object of that kind matches.
    #[error("{}: no {} with matching {} '{}'", kind.not_found_class(), kind.noun(), by.word(), name)]
    NotFound {
        /// What was looked for.
        kind: ObjectKind,
        /// How it was looked up.
        by: LookupKey,
        /// The name, uuid, id, path or key given.
        name: String,
    },
    /// An object with that name or UUID exists already.
    #[error("operation failed: {} '{}' already exists{}", kind.noun(), name, uuid.as_ref().map(|u| format!(" with uuid {u}")).unwrap_or_default())]
    AlreadyExists {
        /// Kind of the existing object.
        kind: ObjectKind,
        /// Its name.
        name: String,
        /// Its UUID, when the clash is about a different UUID.
        uuid: Option<String>,
    },
    /// A definition is not valid XML for its kind.
    #[error("XML error: {0}")]
    Invalid(String),
    /// An argument is not acceptable.
    #[error("invalid argument: {0}")]
    InvalidArg(String),
    /// The object is not in a state where the operation makes sense.
    #[error("Requested operation is not valid: {0}")]
    OperationInvalid(String),
    /// A device named by a change is not in the definition.
    #[error("device not found: {0}")]
    DeviceMissing(String),
    /// The driver cannot do this (yet).
    #[error("Operation not supported: {0}")]
    Unsupported(String),
    /// No driver handles this URI.
    #[error("no connection driver available for {uri}")]
    NoDriver {
        /// The URI given.
        uri: String,
    },
    /// The caller may not use this connection or file.
    #[error("access denied: {0}")]
    AccessDenied(String),
    /// A file-system operation failed.
    #[error("{op} '{path}': {message}")]
    Io {
        /// What was being done, e.g. "cannot write file".
        op: String,
        /// The file or folder.
        path: String,
        /// The system's message.
        message: String,
    },
    /// A storage operation failed (image format, size, copy).
    #[error("storage error: {0}")]
    Storage(String),
    /// The backend task is gone (the connection was closed or crashed).
    #[error("the connection to the backend is closed")]
    Closed,
    /// Anything else.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// Not found by name.
    pub fn not_found(kind: ObjectKind, name: impl Into<String>) -> Self {
        ApiError::NotFound {
            kind,
            by: LookupKey::Name,
            name: name.into(),
        }
    }

    /// An I/O failure on `path` while doing `op`.
    pub fn io(
        op: impl Into<String>,
        path: impl AsRef<std::path::Path>,
        err: &std::io::Error,
    ) -> Self {
        ApiError::Io {
            op: op.into(),
            path: path.as_ref().display().to_string(),
            message: io_message(err),
        }
    }

    /// Shorthand for [`ApiError::OperationInvalid`].
    pub fn invalid_op(message: impl Into<String>) -> Self {
        ApiError::OperationInvalid(message.into())
    }

    /// Shorthand for [`ApiError::Unsupported`].
    pub fn unsupported(message: impl Into<String>) -> Self {
        ApiError::Unsupported(message.into())
    }
}

/// The system's message for an I/O error without Rust's "(os error N)" suffix,
/// as libvirt prints `strerror`.
pub fn io_message(err: &std::io::Error) -> String {
    let text = err.to_string();
    match text.find(" (os error") {
        Some(cut) => text[..cut].to_string(),
        None => text,
    }
}

impl From<XmlError> for ApiError {
    fn from(err: XmlError) -> Self {
        ApiError::Invalid(err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_match_libvirt_wording() {
        let e = ApiError::not_found(ObjectKind::Network, "x");
        assert_eq!(
            e.to_string(),
            "Network not found: no network with matching name 'x'"
        );
        let e = ApiError::not_found(ObjectKind::Volume, "v");
        assert_eq!(
            e.to_string(),
            "Storage volume not found: no storage vol with matching name 'v'"
        );
        let e = ApiError::invalid_op("domain is not running");
        assert_eq!(
            e.to_string(),
            "Requested operation is not valid: domain is not running"
        );
    }
}
