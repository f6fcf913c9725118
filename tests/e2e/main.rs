//! End-to-end tests: the real `sluice` binary against receivers on loopback.

mod support;

mod accounting;
mod admin;
mod authoring;
mod cli;
mod config_reload;
mod contract_versions;
mod datadog;
mod dead_letter;
mod elasticsearch;
mod files;
mod filter_modules;
mod filters;
mod hec_ack;
mod hec_delivery;
mod hostile_input;
mod ingest;
mod logs;
mod loki;
mod operability;
mod packaging;
mod producer;
mod quickstart;
mod readme;
mod real_servers;
mod reliable;
mod reload;
mod sandbox;
mod security;
mod sentinel;
mod shutdown;
mod sources;
mod syslog;
mod syslog_source;
mod webhook;
