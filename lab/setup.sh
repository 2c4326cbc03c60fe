#!/bin/sh
# Lab set-up: everything `make run` and `make check` need on a fresh
# Debian 12 machine. Idempotent: each step says what it does, and is
# skipped when already done.
#
# Usage: lab/setup.sh [--check-only]
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/lab/versions.env"
build="$top/build"

say() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

# ---- preconditions: before any long step -----------------------------------
[ "$(id -u)" = 0 ] || die "run as root (apt-get, and QEMU's 9p root export, need it)"
[ -r /etc/debian_version ] || die "this lab expects Debian 12 (bookworm); /etc/debian_version is missing"
case "$(cat /etc/debian_version)" in
12*|bookworm*) ;;
*) say "warning: Debian $(cat /etc/debian_version) is not Debian 12; continuing" ;;
esac
[ "$(uname -m)" = x86_64 ] || die "the lab builds and boots x86_64 only (this is $(uname -m))"

mkdir -p "$build"
if [ ! -e "$build/obj/arch/x86/boot/bzImage" ]; then
	free_kb=$(df -Pk "$build" | awk 'NR==2 {print $4}')
	need_kb=$((MIN_FREE_GB * 1024 * 1024))
	[ "$free_kb" -ge "$need_kb" ] ||
		die "need ${MIN_FREE_GB} GB free under $build for the first build, have $((free_kb / 1024 / 1024)) GB"
fi
[ "${1:-}" = --check-only ] && exit 0

# ---- Debian packages ---------------------------------------------------------
llvm=$LLVM_SUFFIX
pkgs="clang$llvm lld$llvm llvm$llvm libclang$llvm-dev bc flex bison libelf-dev
libssl-dev cpio ccache kmod rsync xz-utils make gcc libc6-dev pahole python3
python3-venv numactl libnuma-dev ndctl daxctl busybox-static udev"
# udev: virtme-ng (make vng) runs the host's udevd in the guest, to find the
# virtio-serial ports its command talks through; without it the command's
# output is lost and vng exits 255.

missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done
apt_updated=
apt_update() {
	[ -n "$apt_updated" ] && return 0
	say "apt-get update"
	apt-get update -q >/dev/null || die "apt-get update failed"
	apt_updated=1
}
if [ -n "$missing" ]; then
	apt_update
	say "installing Debian packages:$missing"
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing >"$build/apt.log" 2>&1 ||
		{ tail -n 20 "$build/apt.log" >&2; die "apt-get install failed (log: $build/apt.log)"; }
else
	say "Debian packages: present"
fi

# ---- QEMU 10 from bookworm-backports ----------------------------------------
qemu_major() {
	command -v qemu-system-x86_64 >/dev/null 2>&1 || { echo 0; return; }
	qemu-system-x86_64 --version | sed -n 's/.*version \([0-9]*\)\..*/\1/p' | head -n 1
}
if [ "$(qemu_major)" -lt "$QEMU_MIN_MAJOR" ]; then
	src=/etc/apt/sources.list.d/bookworm-backports.sources
	if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
		say "adding the bookworm-backports suite ($src)"
		cat >"$src" <<-EOF
		Types: deb
		URIs: http://deb.debian.org/debian
		Suites: bookworm-backports
		Components: main
		Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
		EOF
		apt_updated=
	fi
	apt_update
	say "installing qemu-system-x86 from bookworm-backports"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		-t bookworm-backports qemu-system-x86 >"$build/apt-qemu.log" 2>&1 ||
		{ tail -n 20 "$build/apt-qemu.log" >&2; die "could not install QEMU from bookworm-backports"; }
	[ "$(qemu_major)" -ge "$QEMU_MIN_MAJOR" ] ||
		die "qemu-system-x86_64 is $(qemu_major).x, the lab needs $QEMU_MIN_MAJOR or newer (CXL volatile memory)"
else
	say "QEMU $(qemu_major).x: present"
fi

# ---- pinned kernel source ------------------------------------------------------
tarball=/usr/src/linux-source-6.12.tar.xz
have=$(dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null || true)
if [ "$have" != "$LINUX_SOURCE_VERSION" ]; then
	apt_update
	say "installing linux-source-6.12=$LINUX_SOURCE_VERSION (installed: ${have:-none})"
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends --allow-downgrades \
		"linux-source-6.12=$LINUX_SOURCE_VERSION" >"$build/apt-src.log" 2>&1; then
		printf '[setup] error: the pinned kernel source linux-source-6.12=%s is no longer installable.\n' "$LINUX_SOURCE_VERSION" >&2
		printf '[setup] versions the archive offers now:\n' >&2
		apt-cache policy linux-source-6.12 | sed -n 's/^ *\(\*\*\* \)\{0,1\}\([0-9][^ ]*\) .*/  \2/p' >&2
		printf '[setup] to move the pin: set LINUX_SOURCE_VERSION and LINUX_SOURCE_SHA256 in lab/versions.env,\n' >&2
		printf '[setup] then `make tree` and rebase the series onto the new base (see README).\n' >&2
		exit 1
	fi
else
	say "linux-source-6.12 $have: present"
fi
sum=$(sha256sum "$tarball" | cut -d' ' -f1)
[ "$sum" = "$LINUX_SOURCE_SHA256" ] ||
	die "$tarball has SHA-256 $sum, lab/versions.env pins $LINUX_SOURCE_SHA256"
say "kernel source SHA-256 verified"

# ---- Rust: rust-src and bindgen ----------------------------------------------
command -v rustup >/dev/null 2>&1 || PATH="$HOME/.cargo/bin:$PATH"
command -v rustc >/dev/null 2>&1 || die "rustc not found (the machine's rustup toolchain is expected in ~/.cargo/bin)"
sysroot=$(rustc --print sysroot)
if [ ! -d "$sysroot/lib/rustlib/src/rust/library/core" ]; then
	say "rustup component add rust-src"
	rustup component add rust-src || die "could not add the rust-src component"
else
	say "rust-src: present ($(rustc --version))"
fi
if [ "$(bindgen --version 2>/dev/null | awk '{print $2}')" != "$BINDGEN_VERSION" ]; then
	say "cargo install bindgen-cli $BINDGEN_VERSION"
	cargo install --locked bindgen-cli --version "$BINDGEN_VERSION" >"$build/bindgen.log" 2>&1 ||
		{ tail -n 20 "$build/bindgen.log" >&2; die "cargo install bindgen-cli failed"; }
else
	say "bindgen $BINDGEN_VERSION: present"
fi

# ---- virtme-ng in a virtual environment ----------------------------------------
venv="$build/venv"
if ! "$venv/bin/vng" --version 2>/dev/null | grep -q "$VIRTME_NG_VERSION"; then
	say "virtme-ng $VIRTME_NG_VERSION into $venv"
	/usr/bin/python3 -m venv "$venv" || die "python3 -m venv failed"
	"$venv/bin/pip" install -q "virtme-ng==$VIRTME_NG_VERSION" >"$build/pip.log" 2>&1 ||
		{ tail -n 20 "$build/pip.log" >&2; die "pip install virtme-ng failed"; }
else
	say "virtme-ng $VIRTME_NG_VERSION: present"
fi

say "done"
