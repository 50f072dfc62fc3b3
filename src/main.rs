//! Ferrobase: a self-hosted backend-as-a-service in one binary.

#![allow(dead_code)]

mod error;
mod ids;
mod schema;
mod store;

fn main() {}
