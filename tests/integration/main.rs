//! Integration tests: the real `ferrobase` binary driven over HTTP through `harness::TestServer`.
//!
//! One test crate (one link) with a module per area; every test starts its own server, so the
//! default parallel test runner is safe.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod harness;

mod accounts;
mod admin;
mod arch_bodies;
mod arch_cycles;
mod arch_fields;
mod arch_list;
mod arch_ops;
mod arch_services;
mod arch_store;
mod attacks;
mod auth;
mod backups;
mod batch;
mod columns;
mod crash;
mod crud;
mod files;
mod files_s3;
mod geo;
mod hardening_cpu;
mod hardening_limits;
mod hardening_realtime;
mod hardening_rss;
mod hardening_rules;
mod hardening_store;
mod inspect;
mod openapi;
mod ops_collections;
mod ops_logs;
mod ops_mail;
mod ops_metrics;
mod ops_settings;
mod persistence;
mod plugins;
mod public_dir;
mod query;
mod realtime;
mod realtime_sse;
mod relations;
mod rules;
mod schema_changes;
mod typegen;
mod unique_race;
mod validation;
mod webhooks;
