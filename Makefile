# tarn — build. `make` builds ./tarn; `make check` runs every test; `make asan` builds the
# sanitizer variant into build-asan/. Sources are found by wildcard: one folder per layer under
# src/, unit tests are src/<layer>/test_*.c (each a standalone TAP program).
CC      ?= cc
BUILD   ?= build
PKGS    := libxxhash liblz4 libzstd libcrypto libcurl
CFLAGS  ?= -O2 -g
override CFLAGS  += -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -D_FILE_OFFSET_BITS=64 \
           -D_GNU_SOURCE -pthread -Isrc $(shell pkg-config --cflags $(PKGS))
override LDLIBS  += $(shell pkg-config --libs $(PKGS)) -pthread -lm
PREFIX  ?= /usr/local

LAYERS  := util pool tree dsl vol stream stmf backup nbd iscsi daemon cli
LIBSRC  := $(filter-out %/main.c,$(foreach l,$(LAYERS),$(filter-out src/$(l)/test_%.c,$(wildcard src/$(l)/*.c))))
LIBOBJ  := $(LIBSRC:src/%.c=$(BUILD)/%.o)
TESTSRC := $(foreach l,$(LAYERS),$(wildcard src/$(l)/test_*.c))
TESTBIN := $(TESTSRC:src/%.c=$(BUILD)/%)

all: $(BUILD)/tarn tarn

tarn: $(BUILD)/tarn
	ln -sf $(BUILD)/tarn tarn

$(BUILD)/tarn: $(BUILD)/cli/main.o $(BUILD)/libtarn.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/libtarn.a: $(LIBOBJ)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/%: $(BUILD)/%.o $(BUILD)/libtarn.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

unit: $(TESTBIN)

# The whole suite, plain and then under ASan+UBSan (what CI runs).
check: all unit asan
	tests/run.sh $(BUILD) && $(ASAN_ENV) tests/run.sh build-asan

# The plain suite only (quicker while developing).
check-fast: all unit
	tests/run.sh $(BUILD)

ASAN_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 TARN_SANITIZED=1

asan:
	$(MAKE) BUILD=build-asan CC=clang \
	  CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" \
	  LDFLAGS="-fsanitize=address,undefined" build-asan/tarn unit

check-asan: asan
	$(ASAN_ENV) tests/run.sh build-asan

install: all
	install -d $(DESTDIR)$(PREFIX)/sbin
	install -m 0755 $(BUILD)/tarn $(DESTDIR)$(PREFIX)/sbin/tarn
	ln -sf tarn $(DESTDIR)$(PREFIX)/sbin/zfs
	ln -sf tarn $(DESTDIR)$(PREFIX)/sbin/zpool
	ln -sf tarn $(DESTDIR)$(PREFIX)/sbin/sbdadm
	ln -sf tarn $(DESTDIR)$(PREFIX)/sbin/stmfadm
	ln -sf tarn $(DESTDIR)$(PREFIX)/sbin/itadm

clean:
	rm -rf build build-asan tarn

.PHONY: all unit check check-fast asan check-asan install clean
.SECONDARY:
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
