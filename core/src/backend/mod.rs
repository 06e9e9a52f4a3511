//! Drivers behind the API, chosen by URI: the in-memory `test` driver and
//! the `hangar` driver with its on-disk store.

pub mod definition;
pub mod test_driver;
pub mod uri;

use crate::api::{ApiError, Driver, EventSink};
pub use uri::DriverUri;

/// Opens the driver that serves `uri`.
pub fn open_driver(uri: &str, events: EventSink) -> Result<Box<dyn Driver>, ApiError> {
    match DriverUri::parse(uri)? {
        DriverUri::TestDefault => Ok(Box::new(test_driver::TestDriver::open_default(events)?)),
        DriverUri::TestFile(path) => {
            Ok(Box::new(test_driver::TestDriver::open_file(&path, events)?))
        }
        DriverUri::HangarSession | DriverUri::HangarSystem => Err(ApiError::unsupported(
            "the hangar driver is not available in this build yet",
        )),
    }
}
