# openai-dify-proxy: OpenAI Chat Completions in front of Dify apps.
#
#   make            build build/openai-dify-proxy
#   make run        build and start the proxy in the foreground on its defaults
#   make test       build and run every test (unit, integration, Node client)
#   make test-asan  the same tests and the hostile run under ASan + UBSan
#   make test-hostile a bounded run of hostile clients against the proxy
#   make soak       ten minutes of mixed traffic: RSS and descriptors
#   make fuzz-smoke short libFuzzer runs of each fuzz target
#   make demo       start the Dify look-alike and the proxy together
#   make bench      the proxy and nginx in front of the look-alike, measured
#   make bench-scale concurrent streams per worker vs latency, with nginx
#
# Missing libraries are installed by scripts/deps.sh on first use.

PROG		 = openai-dify-proxy
VERSION		 = 0.1.0

BUILD		?= build
CC		?= cc
OPT		?= -O2
SAN		?=
PKGS		 = libevent_core libevent_extra libevent_openssl openssl jansson \
		   hiredis

WARN		 = -Wall -Wextra -Wformat=2 -Wmissing-prototypes \
		   -Wstrict-prototypes -Wmissing-declarations -Wshadow \
		   -Wpointer-arith -Wcast-qual -Wwrite-strings -Wundef -Wvla \
		   -Wno-sign-compare
ifeq ($(WERROR),1)
WARN		+= -Werror
endif

# Evaluated when a recipe runs, i.e. after the deps stamp has installed them.
PKG_CFLAGS	 = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS	 = $(shell pkg-config --libs $(PKGS))
CHECK_CFLAGS	 = $(shell pkg-config --cflags check)
CHECK_LIBS	 = $(shell pkg-config --libs check)

CPPFLAGS	+= -Iinclude -D_GNU_SOURCE -DODP_VERSION='"$(VERSION)"'
CFLAGS_ALL	 = -std=c11 -g $(OPT) $(WARN) $(SAN) -fno-omit-frame-pointer \
		   $(CPPFLAGS) $(CFLAGS)
LDFLAGS_ALL	 = $(SAN) $(LDFLAGS)

ifeq ($(V),1)
Q		 =
else
Q		 = @
endif

# Modules without libevent: unit-tested and fuzzed on their own.
PURE_SRCS	 = buf.c sse.c chunked.c dify_event.c chat_request.c api_error.c \
		   openai_format.c relay.c config.c dotenv.c url.c log.c util.c \
		   mempool.c json_scan.c json_reader.c http_date.c http_reply.c \
		   route.c cors.c auth.c \
		   http_guard.c dify_app.c dify_app_chat.c dify_app_completion.c \
		   dify_app_workflow.c apps.c app_cache.c think.c dify_upload.c \
		   tool_call.c json_text.c siphash.c siphash_lanes.c conversation.c \
		   conversation_memory.c redis_url.c proxy_keys.c shared_zone.c \
		   rate_limit.c metrics.c tls_context.c upstream_tls.c
# libevent glue.
GLUE_SRCS	 = main.c master.c server.c sock.c exchange.c downstream.c upstream.c \
		   models.c libevent_internals.c client_conn.c conversation_store.c \
		   conversation_redis.c sd_notify.c redis_client.c \
		   rate_limit_store.c readiness.c

PURE_OBJS	 = $(PURE_SRCS:%.c=$(BUILD)/obj/%.o)
GLUE_OBJS	 = $(GLUE_SRCS:%.c=$(BUILD)/obj/%.o)

UNIT_SRCS	 = $(wildcard test/unit/*.c)
UNIT_OBJS	 = $(UNIT_SRCS:test/unit/%.c=$(BUILD)/test/unit/%.o)
INTEG_SRCS	 = $(wildcard test/integration/*.c)
INTEG_OBJS	 = $(INTEG_SRCS:test/integration/%.c=$(BUILD)/test/integration/%.o)
MOCK_SRCS	 = $(wildcard test/mock/*.c)
MOCK_OBJS	 = $(MOCK_SRCS:test/mock/%.c=$(BUILD)/test/mock/%.o)

DEPS		 = $(PURE_OBJS:.o=.d) $(GLUE_OBJS:.o=.d) $(UNIT_OBJS:.o=.d) \
		   $(INTEG_OBJS:.o=.d) $(MOCK_OBJS:.o=.d)

.PHONY: all run test test-c test-unit test-integration test-node test-asan \
	test-systemd \
	fuzz fuzz-smoke demo clean deps-test

all: $(BUILD)/$(PROG)

run: all
	./$(BUILD)/$(PROG)

$(BUILD)/.deps-build: scripts/deps.sh
	$(Q)mkdir -p $(@D)
	$(Q)sh scripts/deps.sh build
	$(Q)touch $@

# After the build's: two apt-get runs at once (make -j) fight for its lock.
$(BUILD)/.deps-test: scripts/deps.sh | $(BUILD)/.deps-build
	$(Q)mkdir -p $(@D)
	$(Q)sh scripts/deps.sh test
	$(Q)touch $@

$(BUILD)/obj/%.o: src/%.c | $(BUILD)/.deps-build
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS_ALL) $(PKG_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/$(PROG): $(PURE_OBJS) $(GLUE_OBJS)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS)

# Unit tests link only the pure modules: no libevent, no sockets.
$(BUILD)/test/unit/%.o: test/unit/%.c | $(BUILD)/.deps-test $(BUILD)/.deps-build
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS_ALL) $(CHECK_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/check-unit: $(UNIT_OBJS) $(PURE_OBJS)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(CHECK_LIBS) -ljansson -lssl -lcrypto

$(BUILD)/test/mock/%.o: test/mock/%.c | $(BUILD)/.deps-build
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS_ALL) $(PKG_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/mock-dify: $(MOCK_OBJS)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS)

$(BUILD)/test/integration/%.o: test/integration/%.c | $(BUILD)/.deps-test $(BUILD)/.deps-build
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS_ALL) $(CHECK_CFLAGS) $(PKG_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/check-integration: $(INTEG_OBJS)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(CHECK_LIBS) $(PKG_LIBS)

test: test-c test-node test-systemd test-docker

# The sample unit, with systemd-analyze verify where it exists.
test-systemd: $(BUILD)/$(PROG)
	sh scripts/check-systemd.sh $(BUILD)

# Dockerfile and docker-compose.yml against the binary (no engine needed).
.PHONY: test-docker
test-docker: $(BUILD)/$(PROG)
	sh scripts/check-docker.sh $(BUILD)

test-c: test-unit test-integration

test-unit: $(BUILD)/check-unit
	./$(BUILD)/check-unit

# A shim that makes the proxy see an untested libevent (it_cli.c); built
# without sanitizers, as it is preloaded into the proxy.
$(BUILD)/fake-libevent-version.so: test/shim/fake_libevent_version.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) -shared -fPIC -O2 $(WARN) -o $@ $<

# A shim that signals the proxy as it starts (it_workers.c).
$(BUILD)/raise-at-start.so: test/shim/raise_at_start.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) -shared -fPIC -O2 $(WARN) -o $@ $< -ldl

# Then the suites about Dify again, with Dify reached over TLS.
test-integration: $(BUILD)/check-integration $(BUILD)/$(PROG) $(BUILD)/mock-dify \
		$(BUILD)/fake-libevent-version.so $(BUILD)/raise-at-start.so
	ODP_BUILD=$(BUILD) ./$(BUILD)/check-integration
	ODP_BUILD=$(BUILD) ODP_TEST_UPSTREAM_TLS=1 ./$(BUILD)/check-integration

test/node/node_modules/.package-lock.json: test/node/package.json test/node/package-lock.json | $(BUILD)/.deps-test
	cd test/node && npm ci --no-audit --no-fund --loglevel=error

test-node: $(BUILD)/$(PROG) $(BUILD)/mock-dify test/node/node_modules/.package-lock.json
	ODP_BUILD=$(BUILD) node --test test/node/

# The same tests with AddressSanitizer and UBSan in a separate build tree.
ASAN_FLAGS	 = -fsanitize=address,undefined -fno-sanitize-recover=undefined
test-asan:
	$(MAKE) BUILD=build-asan OPT=-O1 SAN="$(ASAN_FLAGS)" test test-hostile

# libFuzzer targets, built with clang in their own tree.
FUZZ_BUILD	 = build-fuzz
FUZZ_TARGETS	 = $(patsubst test/fuzz/fuzz_%.c,$(FUZZ_BUILD)/fuzz_%,$(wildcard test/fuzz/fuzz_*.c))
FUZZ_SECONDS	?= 30
FUZZ_CFLAGS	 = -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined \
		   -fno-sanitize-recover=undefined $(CPPFLAGS)

$(FUZZ_BUILD)/.deps-fuzz: scripts/deps.sh | $(BUILD)/.deps-build
	$(Q)mkdir -p $(@D)
	$(Q)sh scripts/deps.sh fuzz
	$(Q)touch $@

$(FUZZ_BUILD)/fuzz_%: test/fuzz/fuzz_%.c $(PURE_SRCS:%=src/%) $(wildcard include/*.h) | $(FUZZ_BUILD)/.deps-fuzz $(BUILD)/.deps-build
	@$(if $(Q),echo "  FUZZ    $@")
	$(Q)clang $(FUZZ_CFLAGS) -o $@ $< $(PURE_SRCS:%=src/%) -ljansson -lssl -lcrypto \
	    $(FUZZ_LIBS_$*)

# The guard's fuzz target checks it against libevent's own request parser.
FUZZ_LIBS_http_guard	 = $(PKG_LIBS)

fuzz: $(FUZZ_TARGETS)

# Each target for FUZZ_SECONDS; with make -j they run side by side (CI
# runs one per CPU).
FUZZ_RUNS	 = $(FUZZ_TARGETS:$(FUZZ_BUILD)/fuzz_%=fuzz-run-%)
.PHONY: $(FUZZ_RUNS)
fuzz-smoke: $(FUZZ_RUNS)

$(FUZZ_RUNS): fuzz-run-%: $(FUZZ_BUILD)/fuzz_%
	@mkdir -p $(FUZZ_BUILD)/corpus-fuzz_$*
	@echo "  RUN     fuzz_$* for $(FUZZ_SECONDS)s"
	@$< -max_total_time=$(FUZZ_SECONDS) -print_final_stats=0 \
	    -artifact_prefix=$(FUZZ_BUILD)/fuzz_$*- \
	    $(FUZZ_BUILD)/corpus-fuzz_$* test/fuzz/corpus/$* \
	    >$(FUZZ_BUILD)/fuzz_$*.log 2>&1 \
	    || { tail -40 $(FUZZ_BUILD)/fuzz_$*.log; exit 1; }

# A bounded run of a hostile client against the proxy (CI runs it), and a
# long soak of mixed traffic (not in CI).  Both reuse the integration
# harness's processes and raw HTTP.
HOSTILE_SRCS	 = $(wildcard test/hostile/*.c)
HOSTILE_OBJS	 = $(HOSTILE_SRCS:test/hostile/%.c=$(BUILD)/test/hostile/%.o)
SOAK_SRCS	 = $(wildcard test/soak/*.c)
SOAK_OBJS	 = $(SOAK_SRCS:test/soak/%.c=$(BUILD)/test/soak/%.o)
.PHONY: test-hostile soak

$(BUILD)/test/hostile/%.o $(BUILD)/test/soak/%.o: | $(BUILD)/.deps-test $(BUILD)/.deps-build
$(BUILD)/test/hostile/%.o: test/hostile/%.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS_ALL) $(PKG_CFLAGS) -Itest/integration -MMD -MP -c $< -o $@

$(BUILD)/test/soak/%.o: test/soak/%.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS_ALL) $(PKG_CFLAGS) -Itest/integration -MMD -MP -c $< -o $@

$(BUILD)/hostile: $(HOSTILE_OBJS) $(BUILD)/test/integration/harness.o
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS)

$(BUILD)/soak: $(SOAK_OBJS) $(BUILD)/test/integration/harness.o
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS)

test-hostile: $(BUILD)/hostile $(BUILD)/$(PROG) $(BUILD)/mock-dify
	ODP_BUILD=$(BUILD) ./$(BUILD)/hostile

soak: $(BUILD)/soak $(BUILD)/$(PROG) $(BUILD)/mock-dify
	ODP_BUILD=$(BUILD) ./$(BUILD)/soak

demo: $(BUILD)/$(PROG) $(BUILD)/mock-dify
	sh scripts/demo.sh $(BUILD)

# Benchmarks: test/bench/run.sh starts the look-alike, the proxy and nginx
# and drives them with wrk and these clients (docs/benchmarks.md).
BENCH_COMMON	 = $(BUILD)/test/bench/bench_util.o $(BUILD)/test/bench/bench_http.o \
		   $(BUILD)/test/bench/bench_load.o $(BUILD)/test/bench/bench_proc.o
BENCH_BINS	 = $(BUILD)/bench-latency $(BUILD)/bench-paced $(BUILD)/bench-freeport
BENCH_OBJS	 = $(BENCH_COMMON) $(BUILD)/test/bench/latency.o \
		   $(BUILD)/test/bench/paced.o $(BUILD)/test/bench/freeport.o
.PHONY: bench bench-scale
.SECONDARY: $(BENCH_OBJS)

$(BUILD)/test/bench/%.o: test/bench/%.c | $(BUILD)/.deps-build
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(BUILD)/bench-%: $(BUILD)/test/bench/%.o $(BENCH_COMMON)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^

bench: $(BUILD)/$(PROG) $(BUILD)/mock-dify $(BENCH_BINS)
	bash test/bench/run.sh $(BUILD)

# Concurrent streams one worker holds, at several counts (docs/benchmarks.md).
bench-scale: $(BUILD)/$(PROG) $(BUILD)/mock-dify $(BENCH_BINS)
	bash test/bench/scale.sh $(BUILD)

clean:
	rm -rf build build-asan build-fuzz

-include $(DEPS)
-include $(BENCH_OBJS:.o=.d)
-include $(HOSTILE_OBJS:.o=.d) $(SOAK_OBJS:.o=.d)
