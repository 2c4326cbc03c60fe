# TAP helpers for guest scripts (sourced). Output goes to stdout, which the
# guest init wires to ttyS1; the plan is printed at the end by tap_done.
#
#   ok COND NAME [DETAIL]   COND is evaluated in this shell (so it may call
#                           the library's functions); pass if it succeeds
#   is GOT WANT NAME        pass if the two strings are equal
#   cmp_ge A B NAME         pass if integer A >= B
#   skip NAME WHY           a skipped test
#   diag TEXT               a diagnostic line
#   tap_done                print the plan; exit 1 if any test failed

TAP_N=0
TAP_FAILED=0
echo "TAP version 13"

diag() { printf '# %s\n' "$*"; }

tap_result() { # PASS|FAIL NAME [DETAIL]
	TAP_N=$((TAP_N + 1))
	if [ "$1" = PASS ]; then
		printf 'ok %d %s\n' "$TAP_N" "$2"
	else
		TAP_FAILED=$((TAP_FAILED + 1))
		[ -n "${3:-}" ] && diag "$3"
		printf 'not ok %d %s\n' "$TAP_N" "$2"
	fi
}

ok() { # "COMMAND" NAME [DETAIL]
	if eval "$1" >/dev/null 2>&1; then tap_result PASS "$2"; else tap_result FAIL "$2" "${3:-failed: $1}"; fi
}

is() { # GOT WANT NAME
	if [ "$1" = "$2" ]; then tap_result PASS "$3"; else tap_result FAIL "$3" "got '$1', want '$2'"; fi
}

cmp_ge() { # A B NAME
	if [ -n "$1" ] && [ -n "$2" ] && [ "$1" -ge "$2" ] 2>/dev/null; then
		tap_result PASS "$3"
	else
		tap_result FAIL "$3" "want $1 >= $2"
	fi
}

skip() { # NAME WHY
	TAP_N=$((TAP_N + 1))
	printf 'ok %d %s # SKIP %s\n' "$TAP_N" "$1" "$2"
}

tap_done() {
	printf '1..%d\n' "$TAP_N"
	[ "$TAP_FAILED" -eq 0 ]
}
