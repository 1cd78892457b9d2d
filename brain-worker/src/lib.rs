//! brain-worker
