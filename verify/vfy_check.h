/*
 * vfy_check: signatures, author domain, name binding, DANE, PKIX and
 * Certificate Transparency (SMTPSEC.md 4 steps 2-9).  Filled in by the
 * certificate work; included through vfy.h.
 */
#ifndef VFY_CHECK_H
#define VFY_CHECK_H
#endif
