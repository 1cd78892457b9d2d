//! The `gymcall` command line as a library, so the end-to-end tests drive exactly what users run:
//! [`stack`] (every service in one process), [`demo`], [`results`], the REST [`client`] and
//! [`transcribe`] (WAV files through the call's recogniser), [`personas`] (the persona generator)
//! and [`eval`] (the agent measured on a folder of personas).

pub mod campaign;
pub mod client;
pub mod demo;
pub mod eval;
pub mod personas;
pub mod results;
pub mod stack;
pub mod transcribe;
pub mod up;
