//! Service health checks (placeholder).
