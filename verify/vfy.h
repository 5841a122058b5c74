/*
 * vfy.h: the public interface of the verification library (SMTPSEC.md
 * section 4).  The receiver includes only this header.
 *
 * verify/ never logs and never includes a receiver header: functions return
 * a result code plus a short reason, and the caller logs it.
 */
#ifndef VFY_H
#define VFY_H

#include "verify/vfy_dns.h"
#include "verify/vfy_check.h"

#endif
