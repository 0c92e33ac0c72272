//! `aml-handlers`: the functions that react to Azure Machine Learning events, and the hosts
//! that run them.
//!
//! # Layout
//! - [`inspect`]: one JSON line per event of a delivery body, for people and scripts.
//!
//! Reading envelopes and typed events is the `aml_events` crate's job; this crate decides what
//! to do with them and speaks the hosts' protocols.

pub mod inspect;
