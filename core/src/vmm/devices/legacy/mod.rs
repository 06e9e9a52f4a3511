//! PC legacy devices: the 16550 serial port, the i8042 (reset line and a
//! minimal keyboard controller) and the ACPI PM1 registers.

mod acpi_pm;
mod i8042;
mod serial;

pub use acpi_pm::{AcpiPm, AcpiPmState};
pub use i8042::{I8042State, I8042};
pub use serial::{IrqEvent, SerialDevice};
