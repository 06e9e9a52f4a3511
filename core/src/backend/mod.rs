//! Drivers behind the API, chosen by URI: the in-memory `test` driver and
//! the `hangar` driver with its on-disk store.

pub mod definition;
pub mod hangar_driver;
pub mod store;
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
        u @ (DriverUri::HangarSession | DriverUri::HangarSystem) => {
            Ok(Box::new(hangar_driver::HangarDriver::open(&u, events)?))
        }
    }
}
