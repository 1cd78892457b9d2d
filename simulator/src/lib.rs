//! simulator

pub mod persona;
