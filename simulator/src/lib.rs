//! simulator

pub mod persona;
pub mod fake_twilio;
