#!/bin/sh
# The kernel work tree: the pinned base as a git repository, with the
# series from patches/ applied on top, one commit per patch.
#
#   lab/tree.sh create   unpack the base (once) and apply patches/series
#   lab/tree.sh export   write the tree's commits back to patches/
#   lab/tree.sh check    exit 1, saying what, if the tree holds work that
#                        is not in patches/
#
# The base commit is made with a fixed identity and date, so it has the same
# id on every machine. Debian's tarball ends its top-level .gitignore with a
# block that ignores every top-level path ("/*", "!/debian/"); the base
# commit drops that block (it is not part of upstream), so new files show in
# `git status` and the export sees them.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/lab/versions.env"
ksrc="$top/build/linux"
patches="$top/patches"
tarball=/usr/src/linux-source-6.12.tar.xz
base_tag=spm-base
branch=spm

say() { printf '[tree] %s\n' "$*"; }
die() { printf '[tree] error: %s\n' "$*" >&2; exit 1; }

fixed_env() {
	GIT_AUTHOR_NAME="SPM lab" GIT_AUTHOR_EMAIL="spm-lab@localhost"
	GIT_COMMITTER_NAME="SPM lab" GIT_COMMITTER_EMAIL="spm-lab@localhost"
	GIT_AUTHOR_DATE="2025-01-01T00:00:00Z" GIT_COMMITTER_DATE="2025-01-01T00:00:00Z"
	export GIT_AUTHOR_NAME GIT_AUTHOR_EMAIL GIT_COMMITTER_NAME GIT_COMMITTER_EMAIL
	export GIT_AUTHOR_DATE GIT_COMMITTER_DATE
}

g() { git -C "$ksrc" "$@"; }

series_files() {
	[ -f "$patches/series" ] || return 0
	sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$patches/series"
}

make_base() {
	[ -f "$tarball" ] || die "$tarball is missing: run lab/setup.sh (make setup)"
	say "unpacking $(basename "$tarball") ($LINUX_SOURCE_VERSION) into $ksrc"
	rm -rf "$ksrc" "$ksrc.tmp"
	mkdir -p "$ksrc.tmp"
	tar -C "$ksrc.tmp" --strip-components=1 -xf "$tarball"
	# Drop Debian's "ignore everything at the top level" block.
	sed -i '/^# Debian packaging: ignore everything at the top level/,$d' "$ksrc.tmp/.gitignore"
	sed -i -e :a -e '/^\n*$/{$d;N;ba' -e '}' "$ksrc.tmp/.gitignore"
	sed -i '${/^#$/d}' "$ksrc.tmp/.gitignore"
	say "committing the base (takes a minute)"
	(
		cd "$ksrc.tmp"
		git init -q -b "$branch"
		git config core.autocrlf false
		git config gc.auto 0
		git config user.name "${SPM_GIT_NAME:-SPM developer}"
		git config user.email "${SPM_GIT_EMAIL:-spm-dev@localhost}"
		fixed_env
		# The whole pristine tree, dotfiles included: Debian's .gitignore
		# ignores every dotfile (".*"), which would leave .gitattributes
		# (diff drivers, hence the patches' hunk headers), .rustfmt.toml
		# and the .gitignore files out of the base, and `make tree` would
		# then clean them away.
		git add -A -f
		git commit -q -m "Linux $LINUX_UPSTREAM_VERSION (Debian linux-source-6.12 $LINUX_SOURCE_VERSION)"
		git tag "$base_tag"
	)
	mv "$ksrc.tmp" "$ksrc"
}

apply_series() {
	n=0
	for p in $(series_files); do
		[ -f "$patches/$p" ] || die "patches/series names $p, which does not exist"
		if ! g am -q --keep-cr "$patches/$p" >/dev/null 2>&1; then
			g am --abort >/dev/null 2>&1 || true
			die "patch $p does not apply to the base (tree left at the last good patch)"
		fi
		n=$((n + 1))
	done
	say "applied $n patch(es) from patches/series"
}

cmd_create() {
	if [ -d "$ksrc/.git" ] && g rev-parse -q --verify "refs/tags/$base_tag" >/dev/null; then
		if [ "${FORCE:-0}" != 1 ] && ! cmd_check >/dev/null 2>&1; then
			cmd_check >&2 || true
			die "the tree holds work that is not in patches/: 'make export' it first, or FORCE=1 to drop it"
		fi
		say "resetting $ksrc to the base"
		g am --abort >/dev/null 2>&1 || true
		g checkout -q -f -B "$branch" "$base_tag"
		g clean -q -f -d -x
	else
		make_base
	fi
	apply_series
}

# Render base..HEAD as patches into directory $1, deterministically.
render() {
	out=$1
	mkdir -p "$out"
	count=$(g rev-list --count "$base_tag..HEAD")
	if [ "$count" -gt 0 ]; then
		g -c core.abbrev=12 format-patch -q --zero-commit --no-signature --numbered \
			--subject-prefix=PATCH --output-directory "$out" "$base_tag..HEAD" >/dev/null
	fi
	list=$(cd "$out" && ls -1 -- *.patch 2>/dev/null | grep -v '^0000-cover-letter.patch$' || true)
	if [ -n "$list" ]; then printf '%s\n' "$list" >"$out/series"; else : >"$out/series"; fi
	cover "$out" "$count"
}

# The cover letter: its subject and text are kept in patches/ and carried
# over; shortlog and diffstat are generated.
cover() {
	out=$1 count=$2
	old="$patches/0000-cover-letter.patch"
	subject="Specific Purpose Memory (SPM) NUMA nodes"
	blurb=""
	if [ -f "$old" ]; then
		subject=$(sed -n 's/^Subject: \[PATCH[^]]*\] //p' "$old" | head -n 1)
		blurb=$(awk 'body && /^base: /{exit} body{print} !body && /^$/{body=1}' "$old")
	fi
	if [ "$count" -gt 0 ]; then
		date=$(g log -1 --format=%aD HEAD)
		from=$(g log -1 --format='%an <%ae>' HEAD)
	else
		date="Wed, 1 Jan 2025 00:00:00 +0000"
		from="SPM lab <spm-lab@localhost>"
	fi
	{
		echo "From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001"
		echo "From: $from"
		echo "Date: $date"
		echo "Subject: [PATCH 0/$count] $subject"
		echo
		[ -n "$blurb" ] && printf '%s\n\n' "$blurb"
		echo "base: Debian linux-source-6.12 $LINUX_SOURCE_VERSION (Linux $LINUX_UPSTREAM_VERSION)"
		echo
		if [ "$count" -gt 0 ]; then
			g shortlog --no-merges "$base_tag..HEAD"
			g diff --stat=72 "$base_tag" HEAD
		fi
	} >"$out/0000-cover-letter.patch"
}

require_tree() {
	[ -d "$ksrc/.git" ] || die "no kernel tree at $ksrc: run 'make tree'"
	g rev-parse -q --verify "refs/tags/$base_tag" >/dev/null || die "$ksrc has no $base_tag tag"
}

cmd_export() {
	require_tree
	dirty=$(g status --porcelain)
	[ -z "$dirty" ] || die "the tree has uncommitted changes; commit them first:
$dirty"
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	render "$tmp"
	rm -f "$patches"/*.patch "$patches/series"
	mkdir -p "$patches"
	cp "$tmp"/* "$patches"/
	say "exported $(grep -c . "$patches/series" || true) patch(es) to patches/"
}

cmd_check() {
	[ -d "$ksrc/.git" ] || { say "no kernel tree: nothing to export"; return 0; }
	require_tree
	rc=0
	if g rev-parse -q --verify REBASE_HEAD >/dev/null || [ -d "$ksrc/.git/rebase-apply" ]; then
		say "a rebase or git am is in progress in $ksrc"
		rc=1
	fi
	dirty=$(g status --porcelain)
	if [ -n "$dirty" ]; then
		say "uncommitted changes in $ksrc:"
		printf '%s\n' "$dirty" | head -n 20
		rc=1
	fi
	tmp=$(mktemp -d)
	render "$tmp"
	for b in $( (ls -1 "$tmp"; ls -1 "$patches") | sort -u); do
		[ -e "$patches/$b" ] || { say "not exported: $b"; rc=1; continue; }
		[ -e "$tmp/$b" ] || { say "in patches/ but not in the tree: $b"; rc=1; continue; }
		cmp -s "$tmp/$b" "$patches/$b" || { say "differs from the tree: patches/$b"; rc=1; }
	done
	rm -rf "$tmp"
	[ $rc = 0 ] && say "patches/ matches the tree"
	return $rc
}

case "${1:-}" in
create) cmd_create ;;
export) cmd_export ;;
check) cmd_check ;;
*) die "usage: $0 create|export|check" ;;
esac
