#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# vm-args: --cpus 8 --memory 2G --numa 1G,cpus=0-3 --numa 1G,cpus=4-7 --topology 2,2,2
# Guest side of the SMT suite (8 vCPUs: two sockets of two cores of two
# threads, one NUMA node and one last-level cache per socket, see the vm-args
# line): the balance suite's SMT cases. Two hogs started on the threads of one
# core end on two cores of their LLC (active balancing), and a waking task
# picks a wholly idle core over a busy core's idle thread. The kernel's
# scheduler is measured against the same bounds in the same boot.
exec sh tests/vm/balance.sh "smt_split smt_wake"
