//! hb-core (skeleton)
