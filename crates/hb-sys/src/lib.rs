//! hb-sys (skeleton)
