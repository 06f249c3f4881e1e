#!/usr/bin/env bash
# Fuzz the iSCSI target for a bounded time: tests/fuzz/run_iscsi.sh builds the libFuzzer target
# tests/fuzz/fuzz_iscsi.c (clang -fsanitize=fuzzer,address,undefined; a whole client connection
# per input against the in-memory backend), seeds it with logins and PDU sequences and
# runs it for FUZZ_TIME seconds (default 20; the build takes a few seconds). Passes if the
# fuzzer exits 0 and left no crash, leak, timeout or OOM reproducer. Skipped if clang's
# libFuzzer is missing, and under TARN_SANITIZED=1 (the fuzz run is itself sanitized). On
# failure the reproducer is kept; the diagnostics say where (run `DIR/fuzz_iscsi DIR/crash-...`).
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

[ "$TARN_SANITIZED" = 1 ] && t_skip_all "the fuzz run is itself sanitized (run it in the plain suite)"
command -v "${CLANG:-clang}" >/dev/null 2>&1 || t_skip_all "no clang"
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { return 0; }\n' >"$T/probe.c"
"${CLANG:-clang}" -fsanitize=fuzzer "$T/probe.c" -o "$T/probe" >/dev/null 2>&1 ||
  t_skip_all "clang -fsanitize=fuzzer does not link (no libFuzzer; Debian: libclang-rt-14-dev)"

W=$T/fuzz
t_ok "tests/fuzz/run_iscsi.sh: build, seed, fuzz ${FUZZ_TIME:-20}s: nothing found" \
  env FUZZ_TIME="${FUZZ_TIME:-20}" bash "$TARN_SRC/tests/fuzz/run_iscsi.sh" "$W"
if [ "$T_RC" -ne 0 ]; then
  keep=$(mktemp -d /tmp/tarn-fuzz-iscsi-found.XXXXXX)
  cp -r "$W"/crash-* "$W"/leak-* "$W"/timeout-* "$W"/oom-* "$W"/fuzz.log "$W"/build.log "$keep"/ 2>/dev/null
  cp "$W/fuzz_iscsi" "$keep/" 2>/dev/null
  t_diag "reproducers, log and binary kept in $keep"
fi
t_match "the fuzzer ran (executed units reported)" "$T_ERR" 'number_of_executed_units: [1-9]'
t_eq "no crash / leak / timeout / oom files" "$(ls "$W" 2>/dev/null | grep -E '^(crash|leak|timeout|oom)-' || true)" ""
t_done
