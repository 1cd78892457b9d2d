//! In-band DTMF for the agent: the tone generator lives in [`protocol::dtmf`] (one keypad, one
//! generator and one detector for the agent and the simulated IVR).

pub use protocol::dtmf::tones_mulaw;
