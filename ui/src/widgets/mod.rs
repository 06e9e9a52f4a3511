//! Small reusable widgets: the CPU sparkline, the error dialog and
//! helpers for labelled form rows.

pub mod error_dialog;
pub mod form;
pub mod sparkline;
