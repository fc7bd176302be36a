// SPDX-License-Identifier: GPL-2.0
/*
 * The tables intf.h declares for the host: each event counter's name and
 * description, expanded from the FAIRRS_STATS list, so the daemon's names
 * (src/stats.rs) cannot drift from enum fairrs_stat. build.rs compiles this
 * with pelt_host.c into the host library.
 */
#include "intf.h"

#define FAIRRS_STAT_NAME(id, name, doc)	[FAIRRS_STAT_##id] = name,
#define FAIRRS_STAT_DOC(id, name, doc)	[FAIRRS_STAT_##id] = doc,

const char *const fairrs_stat_names[FAIRRS_NR_STATS] = { FAIRRS_STATS(FAIRRS_STAT_NAME) };
const char *const fairrs_stat_docs[FAIRRS_NR_STATS] = { FAIRRS_STATS(FAIRRS_STAT_DOC) };
