#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# vm-args: --numa 1G,cpus=0-1 --numa 1G,cpus=2-3 --topology 2,2,1
# Guest side of the NUMA suite (a 2-node VM, see the vm-args line, which
# vm/test.sh passes to vm/run.sh): the balance suite's NUMA case. Each node is
# a socket of its own, with its own last-level cache, as on real two-socket
# machines, so the balancer's three distances (same LLC, same node, another
# node) are all there and the daemon must report 2 LLCs and 2 nodes.
exec sh tests/vm/balance.sh numa
