//! Operator commands (placeholder).
