//! Shared helpers of the brain-worker integration tests.
#![allow(dead_code)]

pub mod fake_openai;
