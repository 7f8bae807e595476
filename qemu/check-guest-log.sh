#!/usr/bin/env bash
# check-guest-log.sh LOG: fails (and prints the lines) if the guest's kernel
# log shows an oops, BUG, WARNING, panic, lockup, memory corruption, or a
# failure reported by the guest's init ("vm: FAILED").
set -euo pipefail
log=$1
pattern='Oops|BUG:|BUG |WARNING:|Kernel panic|kernel BUG|general protection fault|Call Trace:|RIP: |soft lockup|hard LOCKUP|rcu_sched self-detected|rcu: INFO|hung_task|blocked for more than|unreferenced object|suspected memory leak|Objects remaining|still has objects|list_(add|del) corruption|refcount_t:|UBSAN|KASAN|double free|use-after-free|vm: FAILED'
if grep -aEn "$pattern" "$log" >/tmp/check-guest-log.$$; then
	echo "guest log problems ($log):"
	sed 's/^/  /' /tmp/check-guest-log.$$ | head -40
	rm -f /tmp/check-guest-log.$$
	exit 1
fi
rm -f /tmp/check-guest-log.$$
