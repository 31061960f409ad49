//! Talking to NeuroForge-compatible servers: the wire types of the HTTP contract.

pub mod wire;
