#!/bin/sh
# Interactive guest shell on the console (make shell).
. "$SPMLAB_TOP/lab/guest/lib.sh"
lab_bring_up_all >/dev/console 2>&1
lab_report >/dev/console 2>&1
echo "spmlab: interactive shell; 'poweroff' (or Ctrl-A x) ends the guest" >/dev/console
mkdir -p /tmp/bin
printf '#!/bin/sh\nsync; exec busybox poweroff -f\n' >/tmp/bin/poweroff
chmod +x /tmp/bin/poweroff
export PATH=/tmp/bin:$PATH ENV=/dev/null PS1='spmlab# '
setsid -c sh -i </dev/ttyS0 >/dev/ttyS0 2>&1
echo "ok 1 shell"
echo "1..1"
