#!/bin/bash
# Long form of t_spool_dovecot.sh (make robustness): 200 Emails per case,
# workers = 4, real Dovecot with quota: acknowledged over quota and spooled,
# in the spool at start, a worker SIGKILLed while the retries run; each
# stored exactly once (C: duplicates only inside the documented window).
export ROBUSTNESS_LONG=1
exec bash "$(dirname "$0")/../integration/t_spool_dovecot.sh"
