#!/bin/sh
# Progress of a long step, every 30 s (SPM_PROGRESS_SECS): how long it has
# run and how many objects it has built (kbuild's and the selftests' "  CC",
# "  RUSTC", "  LD", "  AR", "  AS" lines in its log).
#
# As a command:  lab/progress.sh TAG LOG CMD [ARG...]
#   runs CMD with its output in LOG and exits with CMD's status.
# Sourced:       progress_start TAG LOG; ...; progress_stop
progress_start() { # TAG LOG
	_progress_t0=$(date +%s)
	# $$ is the caller's shell, in the subshell too.
	_progress_parent=$$
	(
		# The sleep must not hold the caller's stdout (a pipe, maybe)
		# open once this is stopped.
		s=
		trap '[ -z "$s" ] || kill "$s" 2>/dev/null; exit 0' TERM
		while :; do
			sleep "${SPM_PROGRESS_SECS:-30}" >/dev/null 2>&1 &
			s=$!
			wait "$s"
			s=
			# The caller was killed (Ctrl-C) without stopping this.
			kill -0 "$_progress_parent" 2>/dev/null || exit 0
			printf '[%s] %d s, %d objects built so far\n' "$1" "$(($(date +%s) - _progress_t0))" \
				"$(grep -c -E '^ +(CC|RUSTC|LD|AR|AS) ' "$2" 2>/dev/null)"
		done
	) &
	_progress_pid=$!
}

progress_stop() {
	[ -n "${_progress_pid:-}" ] || return 0
	kill "$_progress_pid" 2>/dev/null || true
	wait "$_progress_pid" 2>/dev/null || true
	_progress_pid=
}

case "$0" in
*progress.sh)
	[ $# -ge 3 ] || { echo "usage: $0 TAG LOG CMD [ARG...]" >&2; exit 2; }
	tag=$1 log=$2
	shift 2
	progress_start "$tag" "$log"
	"$@" >"$log" 2>&1
	rc=$?
	progress_stop
	exit $rc
	;;
esac
