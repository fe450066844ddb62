//! hb-config (skeleton)
