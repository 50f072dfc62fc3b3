//! Ferrobase: a self-hosted backend-as-a-service in one binary. The library holds every module;
//! `main.rs` only parses the command line.

pub mod accounts;
pub mod api;
pub mod app;
pub mod auth;
pub mod cli;
pub mod collections;
pub mod config;
pub mod conn;
pub mod error;
pub mod files;
pub mod ids;
pub mod inspect;
pub mod logs;
pub mod mail;
pub mod metrics;
pub mod openapi;
pub mod plugins;
pub mod query;
pub mod realtime;
pub mod records;
pub mod schema;
pub mod serve;
pub mod settings;
pub mod store;
pub mod webhooks;
pub mod work;
