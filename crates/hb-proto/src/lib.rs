//! hb-proto (skeleton)
