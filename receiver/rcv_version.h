/*
 * rcv_version: the one version every program prints with --version
 * (rcv_cli_version) and the gateway logs at start.
 */
#ifndef RCV_VERSION_H
#define RCV_VERSION_H

#ifndef RCV_VERSION
#define RCV_VERSION "0.1.0"
#endif

#endif
