#!/bin/bash
# Long form of t_spool_owners.sh (make robustness): 200 Emails per case,
# workers = 4: spooled at run time, in the spool at start, a worker
# SIGKILLed with retries in flight; each stored exactly once.
export ROBUSTNESS_LONG=1
exec bash "$(dirname "$0")/../integration/t_spool_owners.sh"
