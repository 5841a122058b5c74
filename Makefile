# smtpsec-gateway: top-level build.
#
#   make                      gateway, smtpsec-send, smtpsec-verify, test programs
#   make test                 every unit and integration case; ends "N passed, N failed, N skipped"
#   make SANITIZE=address,undefined test
#   make fuzz [FUZZ_SECONDS=N]  libFuzzer targets (clang); with FUZZ_SECONDS, run each
#   make demo-postfix         Postfix -> smtpsec-send -> gateway -> Dovecot, on loopback
#   make deps                 install the Debian packages build and tests need (root)
#   make install [PREFIX=/usr/local] [DESTDIR=]
#
# Library sources are picked up by directory: base/*.c goes into libbase.a,
# wire/*.c into libwire.a, verify/*.c into libvfy.a, lmtp/*.c into
# liblmtp.a, every receiver/*.c except the *_main.c files into librcv.a.
# Dependencies point one way (see "layers" below):
# base <- wire <- verify, lmtp <- receiver; base, wire, verify <- sender.

CC       ?= cc
PREFIX   ?= /usr/local
SANITIZE ?=
# wolfSSL: `project` (default) links the static library `make deps` builds
# from Debian's source package with the CPU-dispatching assembly
# (config/wolfssl/build.sh, deps/wolfssl/<version>-<rev>/); `system` links
# Debian's libwolfssl.  Each has its own build directory.
WOLFSSL  ?= project
B        := build$(if $(SANITIZE),-san)$(if $(filter system,$(WOLFSSL)),-syswolf)

WOLFSSL_VER := $(shell dpkg-query -W -f='$${Version}' libwolfssl-dev 2>/dev/null)
# r2: the library's own wolfssl/options.h installed with it; r3: without
# SESSION_CERTS; r4: seeded with getrandom(2) (config/wolfssl/build.sh)
WOLF_REV    := r4
WOLF_DIR    := $(CURDIR)/deps/wolfssl/$(WOLFSSL_VER)-$(WOLF_REV)
ifeq ($(WOLFSSL),system)
PKGS       := wolfssl libunbound hiredis libsystemd libidn2 jansson
WOLF_CFLAGS :=
WOLF_LIBS   :=
else ifeq ($(WOLFSSL),project)
PKGS       := libunbound hiredis libsystemd libidn2 jansson
WOLF_CFLAGS := -I$(WOLF_DIR)/include
WOLF_LIBS   := $(WOLF_DIR)/lib/libwolfssl.a -lpthread
ifeq ($(filter deps deb-src clean,$(MAKECMDGOALS)),)
ifeq ($(wildcard $(WOLF_DIR)/.built),)
$(error wolfSSL for this project is not built in $(WOLF_DIR): run 'make deps' (or build against Debian's library with WOLFSSL=system))
endif
endif
else
$(error WOLFSSL must be 'project' or 'system')
endif
PKG_CFLAGS := $(WOLF_CFLAGS) $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# libunbound (Debian) is built on libevent, and libev exports a libevent
# emulation with the same symbol names (event_add, ...).  Name libevent
# before libev so libunbound's calls bind to the real libevent; the other
# order makes libunbound drive libev's emulation and crash.
PKG_LIBS   := $(WOLF_LIBS) $(shell pkg-config --libs $(PKGS) 2>/dev/null) -Wl,--no-as-needed -l:libevent-2.1.so.7 -Wl,--as-needed -lev -lm

WARN     := -Wall -Wextra -Wshadow -Wformat=2 -Wpointer-arith -Wcast-qual \
            -Wstrict-prototypes -Wmissing-prototypes -Wvla -Wundef \
            -Wno-unused-parameter -Wno-format-truncation
WERROR   ?= $(if $(filter true,$(CI)),-Werror)
OPT      ?= -O2
CPPFLAGS += -D_GNU_SOURCE $(PKG_CFLAGS)
# the include root: the whole tree, except for the layers below
INC      := -I.
CFLAGS   += -std=c11 -g $(OPT) $(WARN) $(WERROR) -fno-strict-aliasing -MMD -MP
LDFLAGS  +=
ifneq ($(SANITIZE),)
CFLAGS   += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS  += -fsanitize=$(SANITIZE)
endif

BASE_SRCS := $(sort $(wildcard base/*.c))
WIRE_SRCS := $(sort $(wildcard wire/*.c))
VFY_SRCS  := $(sort $(wildcard verify/*.c))
LMTP_SRCS := $(sort $(wildcard lmtp/*.c))
RCV_SRCS  := $(sort $(filter-out %_main.c,$(wildcard receiver/*.c)))
TLIB_SRCS := $(sort $(wildcard tests/lib/*.c))

LIBBASE := $(B)/libbase.a
LIBWIRE := $(B)/libwire.a
LIBVFY  := $(B)/libvfy.a
LIBLMTP := $(B)/liblmtp.a
LIBRCV  := $(B)/librcv.a
LIBT    := $(B)/libtest.a
ALL_LIBS := $(LIBRCV) $(LIBVFY) $(LIBLMTP) $(LIBWIRE) $(LIBBASE)

# Programs: name -> sources.  sender/ is smtpsec-send; each tests/tools/<name>/
# directory is one test program.
PROGS := smtpsec-gateway smtpsec-verify smtpsec-stats smtpsec-spool smtpsec-send
SRCS_smtpsec-gateway := receiver/rcv_main.c
SRCS_smtpsec-verify  := receiver/rcv_verify_main.c
SRCS_smtpsec-stats   := receiver/rcv_stats_main.c
SRCS_smtpsec-spool   := receiver/rcv_spool_main.c
SRCS_smtpsec-send    := $(sort $(wildcard sender/*.c))
TOOL_DIRS := $(sort $(patsubst %/,%,$(dir $(wildcard tests/tools/*/*.c))))
TOOLS     := $(notdir $(TOOL_DIRS))
$(foreach t,$(TOOLS),$(eval SRCS_$(t) := $(sort $(wildcard tests/tools/$(t)/*.c))))
# Only build programs whose sources exist (modules land one at a time).
PROGS := $(foreach p,$(PROGS),$(if $(wildcard $(SRCS_$(p))),$(p)))
ALL_PROGS := $(PROGS) $(TOOLS)

UNIT_SRCS  := $(sort $(wildcard tests/unit/*/test_*.c))
UNIT_BINS  := $(patsubst tests/unit/%.c,$(B)/tests/unit/%,$(UNIT_SRCS))

obj = $(patsubst %.c,$(B)/obj/%.o,$(1))

.PHONY: all test unit integration check deps deb-src demo bench bench-quick fuzz fuzz-bins install clean \
        robustness soak
.SECONDARY:
all: $(addprefix $(B)/,$(ALL_PROGS)) $(UNIT_BINS)

# which wolfSSL the objects were compiled against: a change rebuilds them
WOLF_STAMP := $(B)/wolfssl.stamp
WOLF_ID    := $(WOLFSSL) $(WOLFSSL_VER)$(if $(filter project,$(WOLFSSL)),-$(WOLF_REV))
$(shell mkdir -p $(B); [ "$$(cat $(WOLF_STAMP) 2>/dev/null)" = "$(WOLF_ID)" ] || echo "$(WOLF_ID)" > $(WOLF_STAMP))

# --- layers (issue #21) ------------------------------------------------------
# Each layer may use only the directories listed for it:
#   base    (libc)                  libbase.a
#   wire    base                    libwire.a   the codec, for gateway and sender
#   verify  base wire               libvfy.a
#   lmtp    base wire               liblmtp.a
#   sender  base wire verify        smtpsec-send
#   receiver, tests/tools, tests/fuzz, tests/diff: everything
# The build enforces it.  A layer's sources (and its unit tests) compile
# against an include root, $(B)/inc/<layer>/, holding symbolic links to
# only those directories, so a wrong-way #include "receiver/..." does not
# compile.  The unit tests of base/, wire/, verify/, lmtp/ and sender/ and
# smtpsec-send link only their layers' libraries, so a wrong-way call does
# not link.  tests/integration/t_layers.sh greps the includes as well.
USES_base         := base
USES_wire         := base wire
USES_verify       := base wire verify
USES_lmtp         := base wire lmtp
USES_sender       := base wire verify sender
USES_tlib         := base tests
USES_tests_base   := base tests
USES_tests_wire   := base wire tests
USES_tests_verify := base wire verify tests
USES_tests_lmtp   := base wire lmtp tests
USES_tests_sender := base wire verify sender tests
LAYER_LIBS_base   := $(LIBBASE)
LAYER_LIBS_wire   := $(LIBWIRE) $(LIBBASE)
LAYER_LIBS_verify := $(LIBVFY) $(LIBWIRE) $(LIBBASE)
LAYER_LIBS_lmtp   := $(LIBLMTP) $(LIBWIRE) $(LIBBASE)
LAYER_LIBS_sender := $(LIBVFY) $(LIBWIRE) $(LIBBASE)

# $(call layer,<objects' directory>,<layer>): its include root
define layer
$(B)/obj/$(1)/%.o: INC := -I$(B)/inc/$(2)
INC_ROOTS += $(B)/inc/$(2)/.made
endef
INC_ROOTS :=
$(eval $(call layer,base,base))
$(eval $(call layer,wire,wire))
$(eval $(call layer,verify,verify))
$(eval $(call layer,lmtp,lmtp))
$(eval $(call layer,sender,sender))
$(eval $(call layer,tests/lib,tlib))
$(eval $(call layer,tests/unit/base,tests_base))
$(eval $(call layer,tests/unit/wire,tests_wire))
$(eval $(call layer,tests/unit/verify,tests_verify))
$(eval $(call layer,tests/unit/lmtp,tests_lmtp))
$(eval $(call layer,tests/unit/sender,tests_sender))
$(B)/inc/%/.made: Makefile
	@rm -rf $(B)/inc/$* && mkdir -p $(B)/inc/$*
	@for d in $(USES_$*); do mkdir -p $(B)/inc/$*/$$(dirname $$d); \
	    ln -s $(CURDIR)/$$d $(B)/inc/$*/$$d; done
	@touch $@

$(B)/obj/%.o: %.c $(WOLF_STAMP) | $(INC_ROOTS)
	@mkdir -p $(dir $@)
	$(CC) $(INC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(LIBBASE): $(call obj,$(BASE_SRCS))
$(LIBWIRE): $(call obj,$(WIRE_SRCS))
$(LIBVFY): $(call obj,$(VFY_SRCS))
$(LIBLMTP): $(call obj,$(LMTP_SRCS))
$(LIBRCV): $(call obj,$(RCV_SRCS))
$(LIBT): $(call obj,$(TLIB_SRCS))
$(B)/%.a:
	@mkdir -p $(dir $@)
	rm -f $@
	$(if $^,ar rcs $@ $^,ar rcs $@)

# $(LIBS_<prog>): what a program links (default: every library and libtest)
LIBS_smtpsec-send := $(LAYER_LIBS_sender)
define prog_rule
LIBS_$(1) ?= $(LIBT) $(ALL_LIBS)
$(B)/$(1): $(call obj,$(SRCS_$(1))) $$(LIBS_$(1))
	$$(CC) $$(LDFLAGS) -o $$@ $(call obj,$(SRCS_$(1))) $$(LIBS_$(1)) $$(PKG_LIBS)
endef
$(foreach p,$(ALL_PROGS),$(eval $(call prog_rule,$(p))))

# Test hooks: the options that make a program misbehave on purpose
# (smtpsec-gateway --insecure-skip-chain-checks, smtpsec-send --insecure,
# --tamper, raw frames) are compiled in only with SMTPSEC_TEST_HOOKS.  The
# build tree's programs, which the tests run, have them; `make install`
# installs $(B)/product/, built from the same sources without them.
HOOK_SRCS     := receiver/rcv_main.c sender/snd_main.c
PRODUCT_PROGS := $(filter smtpsec-gateway smtpsec-send,$(PROGS))
$(call obj,$(HOOK_SRCS)): CPPFLAGS += -DSMTPSEC_TEST_HOOKS
pobj = $(patsubst %.c,$(B)/product/obj/%.o,$(filter $(HOOK_SRCS),$(1))) $(call obj,$(filter-out $(HOOK_SRCS),$(1)))
$(B)/product/obj/sender/%.o: INC := -I$(B)/inc/sender
$(B)/product/obj/%.o: %.c $(WOLF_STAMP) | $(INC_ROOTS)
	@mkdir -p $(dir $@)
	$(CC) $(INC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<
define product_rule
$(B)/product/$(1): $(call pobj,$(SRCS_$(1))) $(ALL_LIBS)
	$$(CC) $$(LDFLAGS) -o $$@ $(call pobj,$(SRCS_$(1))) $(ALL_LIBS) $$(PKG_LIBS)
endef
$(foreach p,$(PRODUCT_PROGS),$(eval $(call product_rule,$(p))))
all: $(addprefix $(B)/product/,$(PRODUCT_PROGS))

$(B)/tests/unit/%: $(B)/obj/tests/unit/%.o $(ALL_LIBS) $(LIBT)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBT) $(ALL_LIBS) $(PKG_LIBS)
# unit tests of a lower layer: libtest and that layer's libraries only
define unit_layer_rule
$(B)/tests/unit/$(1)/%: $(B)/obj/tests/unit/$(1)/%.o $(2) $(LIBT)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) -o $$@ $$< $(LIBT) $(2) $$(PKG_LIBS)
endef
$(foreach l,base wire verify lmtp,$(eval $(call unit_layer_rule,$(l),$(LAYER_LIBS_$(l)))))
# tests/unit/sender/ also links smtpsec-send's objects but its main()
SND_LIB_SRCS := $(filter-out sender/snd_main.c,$(sort $(wildcard sender/*.c)))
$(eval $(call unit_layer_rule,sender,$(call obj,$(SND_LIB_SRCS)) $(LAYER_LIBS_sender)))

# smtpsec-gateway.conf(5) is written by the gateway from its key table
# (receiver/rcv_config.c), so the page cannot drift from the code.
CONF_MAN := $(B)/man/smtpsec-gateway.conf.5
all: $(CONF_MAN)
$(CONF_MAN): $(B)/smtpsec-gateway
	@mkdir -p $(dir $@)
	$(B)/smtpsec-gateway --print-conf-man >$@.tmp && mv $@.tmp $@

# --- tests ---------------------------------------------------------------
# tests/run.sh runs every unit binary and every tests/integration/*.sh,
# counts their PASS:/FAIL:/SKIP: lines and prints the closing line.
test: all
	BUILD=$(abspath $(B)) SHARED=$(abspath ../shared) sh tests/run.sh $(UNIT_BINS) $(sort $(wildcard tests/integration/t_*.sh))
unit: all
	BUILD=$(abspath $(B)) SHARED=$(abspath ../shared) sh tests/run.sh $(UNIT_BINS)
integration: all
	BUILD=$(abspath $(B)) SHARED=$(abspath ../shared) sh tests/run.sh $(sort $(wildcard tests/integration/t_*.sh))
# One module or one file: make check T=tests/unit/verify/test_vfy_der.c
check: all
	BUILD=$(abspath $(B)) SHARED=$(abspath ../shared) sh tests/run.sh $(patsubst tests/unit/%.c,$(B)/tests/unit/%,$(T))

# --- the one-command demo (README's first command) -------------------------
demo: deps
	$(MAKE) --no-print-directory all
	BUILD=$(abspath $(B)) SHARED=$(abspath ../shared) bash tests/demo/demo.sh
# Postfix -> smtpsec-send -> gateway -> Dovecot with the config/postfix recipe (~8 s)
.PHONY: demo-postfix
demo-postfix: deps
	$(MAKE) --no-print-directory all
	BUILD=$(abspath $(B)) SHARED=$(abspath ../shared) bash tests/demo/demo_postfix.sh

# --- benchmarks (print figures; nothing here asserts a timing) -------------
bench: all
	BUILD=$(abspath $(B)) SHARED=$(abspath ../shared) bash tests/bench/bench.sh
bench-quick: all
	BENCH_QUICK=1 BUILD=$(abspath $(B)) SHARED=$(abspath ../shared) bash tests/bench/bench.sh

# --- robustness (long forms of the fault and hostile-client tests) ----------
# make robustness: every tests/robustness/r_*.sh, counted like make test.
# make soak SOAK_MINUTES=N: mixed traffic under ASan for N minutes (default 10).
SOAK_MINUTES ?= 10
robustness: all
	BUILD=$(abspath $(B)) SHARED=$(abspath ../shared) ROBUSTNESS_LONG=1 TEST_TIMEOUT=3600 \
	    sh tests/run.sh $(sort $(wildcard tests/robustness/r_*.sh))
soak:
	$(MAKE) --no-print-directory SANITIZE=address,undefined all
	BUILD=$(abspath build-san) SHARED=$(abspath ../shared) SOAK_MINUTES=$(SOAK_MINUTES) TEST_TIMEOUT=$$(( $(SOAK_MINUTES) * 60 + 600 )) \
	    sh tests/run.sh tests/robustness/soak.sh

# --- fuzzing (clang + libFuzzer) -------------------------------------------
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FB := build-fuzz
FUZZ_FLAGS := -g -O1 -fsanitize=address,undefined -fno-omit-frame-pointer
FUZZ_LIB_SRCS := $(BASE_SRCS) $(WIRE_SRCS) $(VFY_SRCS) $(LMTP_SRCS) $(RCV_SRCS) $(TLIB_SRCS)
fuzz:
	$(MAKE) --no-print-directory CC=clang B=$(FB) OPT=-O1 WERROR= \
	    SANITIZE=address,undefined \
	    CFLAGS_EXTRA=-fsanitize=fuzzer-no-link fuzz-bins
	@if [ -n "$(FUZZ_SECONDS)" ]; then sh tests/fuzz/run.sh $(FB) $(FUZZ_SECONDS); fi
fuzz-bins: $(patsubst tests/fuzz/%.c,$(FB)/fuzz/%,$(FUZZ_SRCS))
CFLAGS += $(CFLAGS_EXTRA)
$(FB)/fuzz/%: tests/fuzz/%.c $(ALL_LIBS) $(LIBT)
	@mkdir -p $(dir $@)
	$(CC) $(INC) $(CPPFLAGS) $(CFLAGS) -fsanitize=fuzzer -o $@ $< $(LIBT) $(ALL_LIBS) $(PKG_LIBS)

# --- packages ---------------------------------------------------------------
DEPS_BUILD := build-essential pkg-config libwolfssl-dev libunbound-dev libev-dev \
              libhiredis-dev libsystemd-dev libidn2-dev libjansson-dev \
              dpkg-dev autoconf automake libtool
DEPS_TEST  := clang libclang-rt-14-dev libfuzzer-14-dev nsd ldnsutils python3-authres qemu-user \
              dovecot-core dovecot-lmtpd redis-server dns-root-data \
              ca-certificates openssl python3 systemd gnuplot-nox postfix \
              prometheus python3-prometheus-client spiped strace
# postfix (t_postfix.sh runs a private instance): installed with debconf's
# "No configuration", so no system instance is set up, and its service is
# disabled when this target installed it; nothing listens on port 25.
# prometheus: t_stats.sh needs only its promtool (check metrics); the
# server's service is disabled when this target installed it.
deps:
	@missing=""; for p in $(DEPS_BUILD) $(DEPS_TEST); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then echo "deps: all installed"; else \
	    echo "deps: installing$$missing"; \
	    if [ -z "$$SMTPSEC_APT_UPDATED" ]; then apt-get update -q; fi; \
	    case " $$missing " in *" postfix "*) \
	        echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections;; esac; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing || exit 1; \
	    case " $$missing " in *" postfix "*) if [ ! -e /etc/postfix/main.cf ]; then \
	        systemctl disable --now postfix.service >/dev/null 2>&1 || true; fi;; esac; \
	    case " $$missing " in *" prometheus "*) \
	        systemctl disable --now prometheus.service >/dev/null 2>&1 || true;; esac; fi
	@if [ "$(WOLFSSL)" = project ]; then $(MAKE) --no-print-directory deb-src && \
	    sh config/wolfssl/build.sh $(WOLF_DIR); fi

# A deb-src entry for Debian's own archive (apt-get source wolfssl): added
# once; apt-get update only when it is new (CI adds it before its update).
DEB_SRC := /etc/apt/sources.list.d/smtpsec-deb-src.sources
deb-src:
	@if [ ! -f $(DEB_SRC) ]; then \
	    printf '%s\n' 'Types: deb-src' 'URIs: http://deb.debian.org/debian' \
	        'Suites: bookworm bookworm-updates' 'Components: main' \
	        'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' '' \
	        'Types: deb-src' 'URIs: http://deb.debian.org/debian-security' \
	        'Suites: bookworm-security' 'Components: main' \
	        'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' > $(DEB_SRC); \
	    echo "deb-src: added $(DEB_SRC)"; \
	    if [ -z "$$SMTPSEC_DEBSRC_UPDATED" ]; then apt-get update -q; fi; fi

# --- differential oracle: DANE + PKIX against OpenSSL (tests/diff/) --------
# OpenSSL (libssl-dev) is linked only into these test binaries and the
# fuzz_dane_pkix target, never into the gateway or libvfy.
DEPS_TEST += libssl-dev
DIFF_SRCS := tests/diff/dp_gen.c tests/diff/dp_oracle.c
DIFF_LIBS := -lssl -lcrypto
DIFF_BINS := $(B)/tests/diff/test_diff_dane_pkix
UNIT_BINS += $(DIFF_BINS)
all: $(DIFF_BINS)
$(B)/tests/diff/%: $(B)/obj/tests/diff/%.o $(call obj,$(DIFF_SRCS)) $(ALL_LIBS) $(LIBT)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(call obj,$(DIFF_SRCS)) $(LIBT) $(ALL_LIBS) $(PKG_LIBS) $(DIFF_LIBS)
$(FB)/fuzz/fuzz_dane_pkix: tests/fuzz/fuzz_dane_pkix.c $(call obj,$(DIFF_SRCS)) $(ALL_LIBS) $(LIBT)
	@mkdir -p $(dir $@)
	$(CC) $(INC) $(CPPFLAGS) $(CFLAGS) -fsanitize=fuzzer -o $@ $< $(call obj,$(DIFF_SRCS)) $(LIBT) $(ALL_LIBS) $(PKG_LIBS) $(DIFF_LIBS)

# --- install ----------------------------------------------------------------
install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin $(DESTDIR)/etc/smtpsec \
	    $(DESTDIR)$(PREFIX)/lib/systemd/system $(DESTDIR)$(PREFIX)/lib/tmpfiles.d \
	    $(DESTDIR)$(PREFIX)/lib/sysusers.d $(DESTDIR)$(PREFIX)/share/doc/smtpsec-gateway
	install -m 755 $(B)/product/smtpsec-gateway $(B)/smtpsec-spool $(DESTDIR)$(PREFIX)/sbin/
	install -m 755 $(B)/product/smtpsec-send $(DESTDIR)$(PREFIX)/bin/
	for p in smtpsec-verify smtpsec-stats; do \
	    if [ -f $(B)/$$p ]; then install -m 755 $(B)/$$p $(DESTDIR)$(PREFIX)/bin/; fi; done
	install -m 644 config/smtpsec-gateway.conf $(DESTDIR)/etc/smtpsec/smtpsec-gateway.conf.example
	sed 's|/usr/local/sbin/|$(PREFIX)/sbin/|g' systemd/smtpsec-gateway.service \
	    > $(DESTDIR)$(PREFIX)/lib/systemd/system/smtpsec-gateway.service
	sed 's|/usr/local/sbin/|$(PREFIX)/sbin/|g' systemd/smtpsec-gateway@.service \
	    > $(DESTDIR)$(PREFIX)/lib/systemd/system/smtpsec-gateway@.service
	sed 's|/usr/local/bin/|$(PREFIX)/bin/|g' systemd/smtpsec-stats-prometheus.service \
	    > $(DESTDIR)$(PREFIX)/lib/systemd/system/smtpsec-stats-prometheus.service
	install -m 644 systemd/smtpsec-stats-prometheus.timer $(DESTDIR)$(PREFIX)/lib/systemd/system/
	sed 's|/usr/local/bin/smtpsec-verify|$(PREFIX)/bin/smtpsec-verify|' scripts/smtpsec-ctlist-update \
	    > $(DESTDIR)$(PREFIX)/sbin/smtpsec-ctlist-update
	chmod 755 $(DESTDIR)$(PREFIX)/sbin/smtpsec-ctlist-update
	sed 's|/usr/local/sbin/|$(PREFIX)/sbin/|g' systemd/smtpsec-ctlist-update.service \
	    > $(DESTDIR)$(PREFIX)/lib/systemd/system/smtpsec-ctlist-update.service
	install -m 644 systemd/smtpsec-ctlist-update.timer $(DESTDIR)$(PREFIX)/lib/systemd/system/
	install -m 644 systemd/smtpsec-gateway.tmpfiles $(DESTDIR)$(PREFIX)/lib/tmpfiles.d/smtpsec-gateway.conf
	install -m 644 systemd/smtpsec-gateway.sysusers $(DESTDIR)$(PREFIX)/lib/sysusers.d/smtpsec-gateway.conf
	install -m 644 README.md $(DESTDIR)$(PREFIX)/share/doc/smtpsec-gateway/
	install -m 644 LICENSE CHANGELOG.md $(DESTDIR)$(PREFIX)/share/doc/smtpsec-gateway/
	install -d $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man8 \
	    $(DESTDIR)$(PREFIX)/share/doc/smtpsec-gateway/postfix
	install -m 644 sender/smtpsec-send.1 man/smtpsec-stats.1 man/smtpsec-verify.1 \
	    $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 644 man/smtpsec-gateway.8 man/smtpsec-spool.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -m 644 man/smtpsec-ctlist-update.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -d $(DESTDIR)$(PREFIX)/share/man/man5
	install -m 644 $(CONF_MAN) $(DESTDIR)$(PREFIX)/share/man/man5/
	for f in master.cf main.cf transport send-keys; do \
	    sed 's|/usr/local/bin/|$(PREFIX)/bin/|g' config/postfix/$$f \
	        > $(DESTDIR)$(PREFIX)/share/doc/smtpsec-gateway/postfix/$$f; done

clean:
	rm -rf build build-san build-fuzz

-include $(shell find $(B) $(FB) -name '*.d' 2>/dev/null)
