//! lab (skeleton)
