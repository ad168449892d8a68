# SPDX-License-Identifier: GPL-2.0
# Makefile - builds allocmap in the libbpf-bootstrap manner: vmlinux.h from the
# running kernel's BTF (override with VMLINUX_H=path), the BPF object with
# clang -target bpf, its skeleton with bpftool, then the user-space daemon.
# Every generated file lives in .output/. Quiet unless V=1. SAN=1 builds the
# user code with -fsanitize=address,undefined.

# SAN=1 builds into its own directory so both builds can coexist
OUTPUT    := $(if $(filter 1,$(SAN)),.output-san,.output)
BIN       := $(if $(filter 1,$(SAN)),$(OUTPUT)/allocmap,allocmap)
CLANG     ?= clang
CC        ?= cc
BPFTOOL   ?= bpftool
VMLINUX_H ?=
ARCH      := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')
# The architecture seam (README: Porting to another architecture): one
# header bpf/arch/$(ARCH).h, and user/*/*_$(ARCH).c; the files of the other
# architectures (named after their headers) are left out of the build.
ARCHES    := $(basename $(notdir $(wildcard bpf/arch/*.h)))
ifeq ($(filter $(ARCH),$(ARCHES)),)
$(error allocmap does not support the architecture '$(ARCH)' (supported: $(ARCHES)); see README.md, Porting to another architecture)
endif
OTHER_ARCH_SRCS := $(foreach a,$(filter-out $(ARCH),$(ARCHES)),$(wildcard user/*/*_$(a).c))
BPF_HDRS  := bpf/allocmap.h bpf/arch.h bpf/arch/$(ARCH).h

CFLAGS    ?= -O2 -g
# user/ is layered: core/ (event model, correlator: plain C, no libbpf),
# probe/ (where probes go), render/ (text, JSON, folded, top's screen),
# report/ (JSONL -> HTML/Perfetto), tracer/ (libbpf runtime), serve/ (the daemon),
# cmd/ (commands)
USER_DIRS := core probe render report tracer serve cmd
USER_INC  := $(addprefix -Iuser/,$(USER_DIRS))
CFLAGS    += -Wall -Wextra -Werror -std=gnu11 -D_GNU_SOURCE -D__TARGET_ARCH_$(ARCH) -I$(OUTPUT) $(USER_INC) -Ibpf
LDLIBS    := -lbpf -ldw -lelf -lz -lcapstone -ljson-c -lncursesw -liberty -lmicrohttpd -lpthread
ifeq ($(SAN),1)
CFLAGS    += -fsanitize=address,undefined -fno-omit-frame-pointer
LDFLAGS   += -fsanitize=address,undefined
endif
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -I$(OUTPUT) -Ibpf -Wall -Werror

# The unit-test library is the lower layers only; tracer/, serve/ and cmd/ (libbpf,
# the skeleton) stay out of it.
LOWER_DIRS  := core probe render report
CORE_SRCS   := $(filter-out $(OTHER_ARCH_SRCS),$(foreach d,$(LOWER_DIRS),$(wildcard user/$(d)/*.c)))
LIBBPF_SRCS := $(filter-out $(OTHER_ARCH_SRCS),$(wildcard user/tracer/*.c user/serve/*.c user/cmd/*.c))
USER_HDRS   := $(wildcard user/*/*.h)
CORE_OBJS   := $(patsubst user/%.c,$(OUTPUT)/%.o,$(CORE_SRCS))
MAIN_OBJS   := $(patsubst user/%.c,$(OUTPUT)/%.o,$(LIBBPF_SRCS))
UNIT_TESTS  := $(patsubst tests/unit/%.c,$(OUTPUT)/tests/%,$(wildcard tests/unit/test_*.c))
PROGS       := $(filter-out $(OUTPUT)/progs/musl_calls,$(patsubst tests/progs/%.c,$(OUTPUT)/progs/%,$(wildcard tests/progs/*.c)))
WORKLOADS   := $(patsubst workloads/%.c,$(OUTPUT)/workloads/%,$(wildcard workloads/*.c))

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

.PHONY: all clean test unit e2e progs install
.DELETE_ON_ERROR:

all: $(BIN) progs

$(OUTPUT) $(OUTPUT)/tests $(OUTPUT)/progs:
	$(Q)mkdir -p $@

$(OUTPUT)/vmlinux.h: | $(OUTPUT)
	$(call msg,GEN,$@)
ifeq ($(VMLINUX_H),)
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@
else
	$(Q)cp $(VMLINUX_H) $@
endif

$(OUTPUT)/allocmap.bpf.o: bpf/allocmap.bpf.c $(BPF_HDRS) $(OUTPUT)/vmlinux.h | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUTPUT)/allocmap.skel.h: $(OUTPUT)/allocmap.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@

$(MAIN_OBJS): $(OUTPUT)/allocmap.skel.h

$(OUTPUT)/%.o: user/%.c $(USER_HDRS) $(BPF_HDRS) | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BIN): $(MAIN_OBJS) $(CORE_OBJS)
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $^ $(LDLIBS) -o $@

# --- HTML report assets (issue 3) -------------------------------------------
# The report's page, stylesheet and script are real files in user/report/assets/;
# scripts/embed.py turns them into string constants in a generated header
# that report.c includes, so the report is one self-contained file.
REPORT_ASSETS := $(wildcard user/report/assets/report.*) user/report/assets/sites.js

$(OUTPUT)/report_assets.h: $(REPORT_ASSETS) scripts/embed.py | $(OUTPUT)
	$(call msg,EMBED,$@)
	$(Q)python3 scripts/embed.py $@ $(REPORT_ASSETS)

$(OUTPUT)/report/report.o: $(OUTPUT)/report_assets.h
# `allocmap diff --html`: its own page and script, the report's stylesheet
DIFF_ASSETS := user/report/assets/report.css user/report/assets/diff.html user/report/assets/diff.js

$(OUTPUT)/diff_assets.h: $(DIFF_ASSETS) scripts/embed.py | $(OUTPUT)
	$(call msg,EMBED,$@)
	$(Q)python3 scripts/embed.py $@ $(DIFF_ASSETS)

$(OUTPUT)/report/diff_html.o: $(OUTPUT)/diff_assets.h
# `allocmap compare --html`: its own page and script, the report's stylesheet
COMPARE_ASSETS := user/report/assets/report.css user/report/assets/compare.html user/report/assets/compare.js

$(OUTPUT)/compare_assets.h: $(COMPARE_ASSETS) scripts/embed.py | $(OUTPUT)
	$(call msg,EMBED,$@)
	$(Q)python3 scripts/embed.py $@ $(COMPARE_ASSETS)

$(OUTPUT)/cmd/compare_html.o: $(OUTPUT)/compare_assets.h

# `allocmap serve`'s live page, its script and the index's stylesheet
LIVE_ASSETS := user/serve/assets/live.html user/serve/assets/live.js user/serve/assets/live.css

$(OUTPUT)/live_assets.h: $(LIVE_ASSETS) scripts/embed.py | $(OUTPUT)
	$(call msg,EMBED,$@)
	$(Q)python3 scripts/embed.py $@ $(LIVE_ASSETS)

$(OUTPUT)/serve/http_routes.o: $(OUTPUT)/live_assets.h
# ---------------------------------------------------------------------------

$(OUTPUT)/tests/%: tests/unit/%.c tests/unit/check.h $(CORE_OBJS) | $(OUTPUT)/tests
	$(call msg,TEST,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $< $(CORE_OBJS) $(UNIT_EXTRA_$*) $(LDLIBS) -o $@

# serve/'s files with no libbpf in them, for their unit test
UNIT_EXTRA_test_serve := $(OUTPUT)/serve/hist.o $(OUTPUT)/serve/conf.o
$(OUTPUT)/tests/test_serve: $(UNIT_EXTRA_test_serve)

# the HTTP side is tested against a fake daemon (the test defines srv.h)
HTTP_OBJS := $(OUTPUT)/serve/http.o $(OUTPUT)/serve/http_routes.o
$(OUTPUT)/tests/test_http: tests/unit/test_http.c tests/unit/check.h $(CORE_OBJS) $(HTTP_OBJS) | $(OUTPUT)/tests
	$(call msg,TEST,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $< $(HTTP_OBJS) $(CORE_OBJS) $(LDLIBS) -o $@

# test programs: plain C, no optimisation tricks that would elide allocations
$(OUTPUT)/progs/%: tests/progs/%.c | $(OUTPUT)/progs
	$(call msg,PROG,$@)
	$(Q)$(CC) -O1 -g -Wall -Wextra -Werror -D_GNU_SOURCE -fno-builtin $(PROG_CFLAGS_$*) $< -lpthread -o $@

$(OUTPUT)/progs/static_nosym: PROG_CFLAGS_static_nosym = -static -s
# a static glibc binary with symbols (functions it does not contain are absent)
$(OUTPUT)/progs/static_example: tests/progs/example.c | $(OUTPUT)/progs
	$(call msg,PROG,$@)
	$(Q)$(CC) -O1 -g -Wall -Wextra -Werror -D_GNU_SOURCE -fno-builtin -static $< -lpthread -o $@
# causes: free reached by a tail call (jmp free) needs sibling-call optimization
$(OUTPUT)/progs/causes: PROG_CFLAGS_causes = -O2 -foptimize-sibling-calls
# C++ test programs (operator new/delete under each allocator): -O0 so no
# new/delete pair is elided
CXX       ?= g++
CXX_PROGS := $(patsubst tests/progs/%.cpp,$(OUTPUT)/progs/%,$(wildcard tests/progs/*.cpp))
$(OUTPUT)/progs/%: tests/progs/%.cpp | $(OUTPUT)/progs
	$(call msg,PROG,$@)
	$(Q)$(CXX) -O0 -g -Wall -Wextra -Werror $< -o $@
# cxxgrow at -O2 as well: main goes to .text.startup, just before crt1.o's
# _start, which has no line information (t_stacks.py: cxx_names)
CXX_PROGS += $(OUTPUT)/progs/cxxgrow_O2
$(OUTPUT)/progs/cxxgrow_O2: tests/progs/cxxgrow.cpp | $(OUTPUT)/progs
	$(call msg,PROG,$@)
	$(Q)$(CXX) -O2 -g -Wall -Wextra -Werror $< -o $@

# stacks: known call paths, built with frame pointers, without them, and
# stripped (no symbols, no debug info): what --stacks must cope with
$(OUTPUT)/progs/stacks: PROG_CFLAGS_stacks = -fno-omit-frame-pointer
# sites: known call sites (t_sites.py), -O0 so every call stays where it is
$(OUTPUT)/progs/sites: PROG_CFLAGS_sites = -O0 -fno-omit-frame-pointer
# served: known call sites for allocmap serve's pprof endpoint (t_serve_http.py)
$(OUTPUT)/progs/served: PROG_CFLAGS_served = -O0 -fno-omit-frame-pointer
STACK_VARIANTS := $(OUTPUT)/progs/stacks_nofp $(OUTPUT)/progs/stacks_stripped
$(OUTPUT)/progs/stacks_nofp: tests/progs/stacks.c | $(OUTPUT)/progs
	$(call msg,PROG,$@)
	$(Q)$(CC) -O1 -g -Wall -Wextra -Werror -D_GNU_SOURCE -fno-builtin -fomit-frame-pointer $< -o $@
$(OUTPUT)/progs/stacks_stripped: tests/progs/stacks.c | $(OUTPUT)/progs
	$(call msg,PROG,$@)
	$(Q)$(CC) -O1 -Wall -Wextra -Werror -D_GNU_SOURCE -fno-builtin -fomit-frame-pointer -s $< -o $@

# musl (issue 14): the musl test program built with musl-gcc (Debian's
# musl-tools), dynamically (its libc is the dynamic linker
# /lib/ld-musl-x86_64.so.1) and statically, and the shipped workloads built
# with musl-gcc for `allocmap compare`'s musl column. Without musl-gcc they
# are not built (tests/t_musl.py then skips, which fails under CI=true).
MUSL_GCC  ?= $(shell command -v musl-gcc 2>/dev/null)
ifneq ($(MUSL_GCC),)
MUSL_PROGS := $(OUTPUT)/progs/musl_dyn $(OUTPUT)/progs/musl_static $(OUTPUT)/progs/musl_nofree_static \
              $(patsubst workloads/%.c,$(OUTPUT)/workloads/musl/%,$(wildcard workloads/*.c))
endif
$(OUTPUT)/progs/musl_dyn: tests/progs/musl_calls.c | $(OUTPUT)/progs
	$(call msg,MUSL-CC,$@)
	$(Q)$(MUSL_GCC) -O1 -g -Wall -Wextra -Werror -D_GNU_SOURCE -fno-builtin $< -o $@
$(OUTPUT)/progs/musl_static: tests/progs/musl_calls.c | $(OUTPUT)/progs
	$(call msg,MUSL-CC,$@)
	$(Q)$(MUSL_GCC) -O1 -g -Wall -Wextra -Werror -D_GNU_SOURCE -fno-builtin -static $< -o $@
$(OUTPUT)/progs/musl_nofree_static: tests/progs/musl_calls.c | $(OUTPUT)/progs
	$(call msg,MUSL-CC,$@)
	$(Q)$(MUSL_GCC) -O1 -g -Wall -Wextra -Werror -D_GNU_SOURCE -fno-builtin -DNO_FREE -static $< -o $@
$(OUTPUT)/workloads/musl/%: workloads/%.c | $(OUTPUT)
	$(call msg,MUSL-CC,$@)
	$(Q)mkdir -p $(OUTPUT)/workloads/musl
	$(Q)$(MUSL_GCC) -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE $< -lpthread -o $@

# shipped workloads for `allocmap compare` (plain C, like the test programs)
$(OUTPUT)/workloads/%: workloads/%.c | $(OUTPUT)
	$(call msg,WORKLOAD,$@)
	$(Q)mkdir -p $(OUTPUT)/workloads
	$(Q)$(CC) -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE $< -lpthread -o $@

progs: $(PROGS) $(CXX_PROGS) $(OUTPUT)/progs/static_example $(STACK_VARIANTS) $(WORKLOADS) $(MUSL_PROGS)

unit: $(UNIT_TESTS)
	$(Q)bash tests/unit/run-unit.sh $(UNIT_TESTS)

# README.md's tables of functions, roles and syscalls, from bpf/allocmap.h
# (test_tables checks them in make unit)
.PHONY: readme-tables
readme-tables: $(OUTPUT)/tests/test_tables
	$(Q)$< --update docs/reference.md

e2e: $(BIN) progs
	$(Q)python3 tests/e2e/e2e.py

test: all $(UNIT_TESTS)
	$(Q)bash tests/run-all.sh

# `make install [PREFIX=/usr/local] [DESTDIR=...]`: the binary, the systemd
# unit (scripts/allocmap.service.in with its paths filled in) and the docs;
# nothing is written outside $(DESTDIR), nothing is started or enabled.
PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
UNITDIR ?= $(PREFIX)/lib/systemd/system
DOCDIR  ?= $(PREFIX)/share/doc/allocmap
install: $(BIN)
	$(call msg,INSTALL,$(DESTDIR)$(BINDIR)/allocmap)
	$(Q)install -D -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/allocmap
	$(Q)mkdir -p $(DESTDIR)$(UNITDIR)
	$(Q)sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@DOCDIR@|$(DOCDIR)|g' scripts/allocmap.service.in \
		> $(DESTDIR)$(UNITDIR)/allocmap.service
	$(Q)chmod 0644 $(DESTDIR)$(UNITDIR)/allocmap.service
	$(Q)install -D -m 0644 -t $(DESTDIR)$(DOCDIR) README.md docs/guide.md docs/reference.md docs/design.md

clean:
	$(call msg,CLEAN,)
	$(Q)rm -rf .output .output-san .output-fuzz allocmap

# --- fuzzing (issue 10) -------------------------------------------------------
# libFuzzer harnesses (tests/fuzz/fuzz_*.c) over the core modules, built with
# clang's -fsanitize=fuzzer,address,undefined into .output-fuzz/. `make fuzz`
# runs each for FUZZ_SECONDS (default 300) from its seed corpus in
# tests/fuzz/corpus/; tests/t_fuzz.py runs each for a minute in the test run.
FUZZ_OUT     := .output-fuzz
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 300
FUZZERS      := $(patsubst tests/fuzz/%.c,$(FUZZ_OUT)/%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_OBJS    := $(patsubst user/%.c,$(FUZZ_OUT)/%.o,$(CORE_SRCS))
FUZZ_CFLAGS  := -O1 -g -std=gnu11 -D_GNU_SOURCE -D__TARGET_ARCH_$(ARCH) -I$(FUZZ_OUT) $(USER_INC) -Ibpf -Wall \
                -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined \
                -fno-omit-frame-pointer

.PHONY: fuzz fuzz-build
.SECONDARY: $(FUZZ_OBJS)

$(FUZZ_OUT):
	$(Q)mkdir -p $@

$(FUZZ_OUT)/report_assets.h: $(REPORT_ASSETS) scripts/embed.py | $(FUZZ_OUT)
	$(call msg,EMBED,$@)
	$(Q)python3 scripts/embed.py $@ $(REPORT_ASSETS)

$(FUZZ_OUT)/report/report.o: $(FUZZ_OUT)/report_assets.h

$(FUZZ_OUT)/diff_assets.h: $(DIFF_ASSETS) scripts/embed.py | $(FUZZ_OUT)
	$(call msg,EMBED,$@)
	$(Q)python3 scripts/embed.py $@ $(DIFF_ASSETS)

$(FUZZ_OUT)/report/diff_html.o: $(FUZZ_OUT)/diff_assets.h

$(FUZZ_OUT)/%.o: user/%.c $(USER_HDRS) $(BPF_HDRS) | $(FUZZ_OUT)
	$(call msg,CC-FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_OUT)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_util.h $(FUZZ_OBJS)
	$(call msg,FUZZER,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $< $(FUZZ_OBJS) $(LDLIBS) -o $@

fuzz-build: $(FUZZERS)

fuzz: fuzz-build
	$(Q)FUZZ_SECONDS=$(FUZZ_SECONDS) python3 tests/e2e/t_fuzz.py

# --- soak (issue 10) ----------------------------------------------------------
# 30 minutes of the sanitized tracer following a churning multi-threaded
# target with -f and periodic fork/exec: no sanitizer report, bounded RSS
# (tests/t_soak.py; the test run does SOAK_SECONDS=30). Forks every 3 s,
# fork+execs every 9 s.
SOAK_SECONDS ?= 1800
.PHONY: soak
soak: all
	$(Q)$(MAKE) -s SAN=1
	$(Q)SOAK_SECONDS=$(SOAK_SECONDS) SOAK_FORK_MS=3000 SOAK_EXEC_MS=9000 python3 tests/e2e/t_soak.py

# --- the daemon's soak (issue 13) ---------------------------------------------
# `allocmap serve` with targets churning and clients coming and going for
# SOAK_MINUTES, its RSS printed every 30 s (scripts/serve-soak).
SOAK_MINUTES ?= 10
.PHONY: serve-soak
serve-soak: all
	$(Q)python3 scripts/serve-soak -m $(SOAK_MINUTES)
