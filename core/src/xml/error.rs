//! Errors of the XML model.

use thiserror::Error;

/// Why a libvirt XML document could not be read or is not valid.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum XmlError {
    /// The text is not well-formed XML.
    #[error("malformed XML at line {line}, column {column}: {message}")]
    Malformed {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the reader found wrong.
        message: String,
    },
    /// The root element is not the one expected.
    #[error("expected root element <{expected}>, found <{found}>")]
    WrongRoot {
        /// Root element the format needs.
        expected: String,
        /// Root element found.
        found: String,
    },
    /// A required element is absent.
    #[error("missing element <{element}> in <{parent}>")]
    MissingElement {
        /// Element that contains it.
        parent: String,
        /// The missing element.
        element: String,
    },
    /// A required attribute is absent.
    #[error("missing attribute '{attribute}' on <{element}>")]
    MissingAttribute {
        /// Element that needs it.
        element: String,
        /// The missing attribute.
        attribute: String,
    },
    /// A value is present but not acceptable.
    #[error("invalid {what} '{value}': {reason}")]
    Invalid {
        /// What was being read, e.g. "MAC address" or "<bridge stp>".
        what: String,
        /// The value found.
        value: String,
        /// Why it is rejected.
        reason: String,
    },
    /// An element appears more often than the format allows, or two settings conflict.
    #[error("{0}")]
    Conflict(String),
    /// The document uses something Hangar does not support.
    #[error("unsupported configuration: {0}")]
    Unsupported(String),
}

impl XmlError {
    /// Shorthand for [`XmlError::Invalid`].
    pub fn invalid(
        what: impl Into<String>,
        value: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        XmlError::Invalid {
            what: what.into(),
            value: value.into(),
            reason: reason.into(),
        }
    }

    /// Shorthand for [`XmlError::MissingElement`].
    pub fn missing(parent: impl Into<String>, element: impl Into<String>) -> Self {
        XmlError::MissingElement {
            parent: parent.into(),
            element: element.into(),
        }
    }
}
