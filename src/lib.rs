// SPDX-License-Identifier: GPL-2.0
//! scx_fairrs as a library: only what a client of a running instance needs,
//! the report types it sends (`metrics`). The scheduler itself is the binary.

pub mod metrics;
