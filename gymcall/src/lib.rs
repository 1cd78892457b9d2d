//! The `gymcall` command line as a library, so the end-to-end tests drive exactly what users run:
//! [`stack`] (every service in one process), [`demo`], [`results`] and the REST [`client`].

pub mod campaign;
pub mod client;
pub mod demo;
pub mod results;
pub mod stack;
pub mod up;
