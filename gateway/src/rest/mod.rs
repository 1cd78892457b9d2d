//! The REST API (`/v1/calls` ...), mounted into the gateway's app by [`configure`].

/// Registers the REST routes. Shared state is reachable as `web::Data<crate::state::AppState>`.
pub fn configure(_cfg: &mut actix_web::web::ServiceConfig) {}
