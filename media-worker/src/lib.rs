//! media-worker
