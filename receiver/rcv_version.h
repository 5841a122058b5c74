/*
 * rcv_version: the version every program prints with --version.
 * (receiver/rcv_main.c still defines its own copy: it should include this.)
 */
#ifndef RCV_VERSION_H
#define RCV_VERSION_H

#ifndef RCV_VERSION
#define RCV_VERSION "0.1.0"
#endif

#endif
