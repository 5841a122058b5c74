#!/bin/bash
# Long form of t_crash.sh (make robustness): 300 Emails from three senders,
# master and all four workers SIGKILLed under load, restart, retries; every
# acknowledged Email stored, duplicates only inside the documented window.
export ROBUSTNESS_LONG=1
exec bash "$(dirname "$0")/../integration/t_crash.sh"
