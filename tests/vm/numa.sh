#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# vm-args: --numa 1G,cpus=0-1 --numa 1G,cpus=2-3
# Guest side of the NUMA suite (a 2-node VM, see the vm-args line, which
# vm/test.sh passes to vm/run.sh): the balance suite's NUMA case.
exec sh tests/vm/balance.sh numa
