//! Connection URIs and which driver serves them.

use std::path::PathBuf;

use crate::api::ApiError;

/// A parsed connection URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriverUri {
    /// `hangar:///session`: the user's own VMs, no root needed.
    HangarSession,
    /// `hangar:///system`: the machine's VMs, needs root.
    HangarSystem,
    /// `test:///default`: the built-in fake host.
    TestDefault,
    /// `test:///ABS/PATH.xml`: a fake host read from a libvirt `<node>` file.
    TestFile(PathBuf),
}

impl DriverUri {
    /// Parses a URI; unknown schemes and paths are [`ApiError::NoDriver`].
    pub fn parse(uri: &str) -> Result<DriverUri, ApiError> {
        let no_driver = || ApiError::NoDriver {
            uri: uri.to_string(),
        };
        let (scheme, rest) = uri.trim().split_once("://").ok_or_else(no_driver)?;
        // Only local connections: the authority (host) part must be empty.
        let path = rest
            .strip_prefix('/')
            .map(|p| format!("/{p}"))
            .ok_or_else(no_driver)?;
        let path = path
            .split_once('?')
            .map_or(path.as_str(), |(p, _)| p)
            .to_string();
        match scheme {
            "hangar" => match path.trim_end_matches('/') {
                "/session" => Ok(DriverUri::HangarSession),
                "/system" => Ok(DriverUri::HangarSystem),
                _ => Err(ApiError::InvalidArg(format!(
                    "unexpected hangar URI path '{path}', try hangar:///session or hangar:///system"
                ))),
            },
            "test" => match path.as_str() {
                "/default" => Ok(DriverUri::TestDefault),
                p if p.len() > 1 => Ok(DriverUri::TestFile(PathBuf::from(p))),
                _ => Err(ApiError::InvalidArg(format!(
                    "unexpected test URI path '{path}', try test:///default or test:///ABS/PATH.xml"
                ))),
            },
            _ => Err(no_driver()),
        }
    }

    /// The canonical spelling of the URI.
    pub fn canonical(&self) -> String {
        match self {
            DriverUri::HangarSession => "hangar:///session".to_string(),
            DriverUri::HangarSystem => "hangar:///system".to_string(),
            DriverUri::TestDefault => "test:///default".to_string(),
            DriverUri::TestFile(p) => format!("test://{}", p.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_known_uris() {
        assert_eq!(
            DriverUri::parse("hangar:///session").ok(),
            Some(DriverUri::HangarSession)
        );
        assert_eq!(
            DriverUri::parse("hangar:///system").ok(),
            Some(DriverUri::HangarSystem)
        );
        assert_eq!(
            DriverUri::parse("test:///default").ok(),
            Some(DriverUri::TestDefault)
        );
        assert_eq!(
            DriverUri::parse("test:///tmp/a.xml").ok(),
            Some(DriverUri::TestFile("/tmp/a.xml".into()))
        );
        assert!(matches!(
            DriverUri::parse("qemu:///system"),
            Err(ApiError::NoDriver { .. })
        ));
        assert!(DriverUri::parse("hangar:///nothing").is_err());
        assert!(DriverUri::parse("test://host/default").is_err());
    }
}
