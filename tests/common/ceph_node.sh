#!/usr/bin/env bash
# A throwaway single-node Ceph cluster with an S3 endpoint (radosgw), for tests.
#
#   ceph_node.sh start DIR   creates the cluster under DIR (made if missing),
#                            starts it, and writes DIR/env:
#                              S3_ENDPOINT=http://127.0.0.1:PORT
#                              S3_ACCESS_KEY=...  S3_SECRET_KEY=...  S3_REGION=default
#   ceph_node.sh stop DIR    stops the daemons started under DIR.
#
# One monitor (msgr2 only, on a free port of 127.0.0.1), one OSD on memstore
# (in memory), no manager, no cephx (S3 signatures are checked by radosgw on
# its own), radosgw with the beast frontend on a free port of 127.0.0.1. Every
# file (config, mon store, logs, admin sockets, pid files) is under DIR; nothing
# in /etc/ceph or /var/lib/ceph is read or written, and systemd is not used.
# Daemons run as the current user. Several clusters (different DIRs) can run
# at once.
#
# A watchdog stops the daemons when DIR/ceph.conf disappears, or when the
# process CEPH_NODE_OWNER_PID (if set) exits, so a test killed before it could
# run `stop` leaves nothing behind.
#
# Environment (optional):
#   CEPH_NODE_ACCESS_KEY, CEPH_NODE_SECRET_KEY   the S3 user's keys
#   CEPH_NODE_MIN_PART_SIZE   rgw_multipart_min_part_size in bytes (Ceph's
#                             default 5 MiB; radosgw accepts smaller)
#   CEPH_NODE_OWNER_PID       stop the daemons when this process exits
#   CEPH_NODE_TIMEOUT         seconds to wait for each step (default 60)
set -euo pipefail

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
CMD=$1
mkdir -p "$2"
DIR=$(cd "$2" && pwd)
CONF=$DIR/ceph.conf
PIDS=$DIR/pids
TIMEOUT=${CEPH_NODE_TIMEOUT:-60}

# Kills the daemons whose pid files are in DIR/pids (only if their command line
# still names this DIR's config, in case a pid was reused) and waits for them to
# exit. SIGKILL: the cluster is throwaway, and a clean shutdown takes seconds.
stop_all() {
  local f pid left=()
  [ -d "$PIDS" ] || return 0
  for f in "$PIDS"/*.pid; do
    [ -e "$f" ] || continue
    pid=$(cat "$f" 2>/dev/null || true)
    if [ -n "$pid" ] && { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -qF -- "$CONF"; then
      kill -KILL "$pid" 2>/dev/null && left+=("$pid")
    fi
    rm -f "$f"
  done
  for _ in $(seq 100); do
    local alive=()
    for pid in "${left[@]}"; do [ -e "/proc/$pid/cmdline" ] && [ -s "/proc/$pid/cmdline" ] && alive+=("$pid"); done
    [ ${#alive[@]} -eq 0 ] && return 0
    left=("${alive[@]}")
    sleep 0.05
  done
}

case "$CMD" in
  stop) stop_all; exit 0 ;;
  start) ;;
  *) usage ;;
esac

for b in ceph ceph-mon ceph-osd radosgw radosgw-admin monmaptool curl; do
  command -v "$b" >/dev/null 2>&1 || {
    echo "ceph_node.sh: $b is not installed: run \`bash installer/setup.sh --tests\`" >&2
    echo "(it installs Debian's radosgw ceph-mon ceph-osd ceph-common)" >&2
    exit 1
  }
done
if [ -e "$CONF" ]; then
  echo "ceph_node.sh: $DIR already holds a cluster (stop it and use an empty DIR)" >&2
  exit 1
fi

T0=$(date +%s%N)
LOG=$DIR/log
mkdir -p "$LOG" "$PIDS" "$DIR/run" "$DIR/crash" "$DIR/mon" "$DIR/osd" "$DIR/rgw"

# Prints an error, the tail of the given logs, stops what was started; exits 1.
fail() {
  local msg=$1; shift
  echo "ceph_node.sh: $msg" >&2
  local f
  for f in "$@"; do
    [ -e "$f" ] || continue
    echo "---- last lines of $f ----" >&2
    tail -n 40 "$f" >&2
  done
  stop_all
  exit 1
}

# Free TCP ports on 127.0.0.1, chosen by the kernel (python3 comes with ceph-common).
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
read -r MON_PORT RGW_PORT < <("$PY" - <<'EOF'
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])
EOF
)
FSID=$(cat /proc/sys/kernel/random/uuid)
OSD_UUID=$(cat /proc/sys/kernel/random/uuid)
ACCESS_KEY=${CEPH_NODE_ACCESS_KEY:-FOLIOTESTACCESSKEY01}
SECRET_KEY=${CEPH_NODE_SECRET_KEY:-folio-test-secret-key-0123456789abcdef}
MIN_PART=${CEPH_NODE_MIN_PART_SIZE:-5242880}

cat >"$CONF" <<EOF
[global]
fsid = $FSID
mon host = [v2:127.0.0.1:$MON_PORT]
mon initial members = a
ms bind msgr1 = false
ms bind ipv6 = false
auth cluster required = none
auth service required = none
auth client required = none
keyring = $DIR/keyring
run dir = $DIR/run
admin socket = $DIR/run/\$name.asok
log file = $LOG/\$name.log
log to stderr = false
err to stderr = true
crash dir = $DIR/crash
mon data = $DIR/mon/\$name
osd data = $DIR/osd/\$name
rgw data = $DIR/rgw/\$name
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
mon data avail warn = 1
mon data avail crit = 0
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
osd objectstore = memstore
memstore device bytes = 1073741824
paxos propose interval = 0.1
debug ms = 0
debug mon = 1
debug osd = 1
debug rgw = 1

[client.rgw.a]
# radosgw defaults to cephx and a "secure" mon connection; neither is possible without cephx
auth client required = none
ms mon client mode = crc
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT
rgw thread pool size = 64
rgw multipart min part size = $MIN_PART
rgw enable usage log = false
log file = $LOG/rgw.log
EOF
touch "$DIR/keyring"

# Runs a ceph CLI command against this cluster, bounded in time.
cephc() { timeout "$TIMEOUT" ceph -c "$CONF" --connect-timeout "$TIMEOUT" "$@"; }

# Starts a daemon in the foreground, in the background; pid in DIR/pids/NAME.pid.
daemon() {
  local name=$1; shift
  "$@" -c "$CONF" -f </dev/null >>"$LOG/$name.out" 2>&1 &
  echo $! >"$PIDS/$name.pid"
  disown $!
}

# ---- monitor ----
monmaptool --create --fsid "$FSID" --addv a "[v2:127.0.0.1:$MON_PORT]" "$DIR/monmap" \
  >"$LOG/mkfs.out" 2>&1 || fail "monmaptool failed" "$LOG/mkfs.out"
ceph-mon -c "$CONF" --mkfs -i a --monmap "$DIR/monmap" >>"$LOG/mkfs.out" 2>&1 \
  || fail "ceph-mon --mkfs failed" "$LOG/mkfs.out" "$LOG/mon.a.log"
daemon mon.a ceph-mon -i a
cephc mon stat >/dev/null 2>"$LOG/ceph-cli.err" \
  || fail "the monitor did not answer on 127.0.0.1:$MON_PORT" "$LOG/ceph-cli.err" "$LOG/mon.a.out" "$LOG/mon.a.log"

# ---- one OSD, in memory ----
OSD_ID=$(cephc osd new "$OSD_UUID" 2>"$LOG/ceph-cli.err") \
  || fail "ceph osd new failed" "$LOG/ceph-cli.err" "$LOG/mon.a.log"
mkdir -p "$DIR/osd/osd.$OSD_ID"
ceph-osd -c "$CONF" -i "$OSD_ID" --mkfs --osd-uuid "$OSD_UUID" >>"$LOG/mkfs.out" 2>&1 \
  || fail "ceph-osd --mkfs failed" "$LOG/mkfs.out" "$LOG/osd.$OSD_ID.log"
daemon "osd.$OSD_ID" ceph-osd -i "$OSD_ID"
deadline=$(( $(date +%s) + TIMEOUT ))
until cephc osd dump 2>/dev/null | grep -q "^osd\.$OSD_ID up"; do
  [ "$(date +%s)" -lt "$deadline" ] || fail "osd.$OSD_ID did not come up" "$LOG/osd.$OSD_ID.out" "$LOG/osd.$OSD_ID.log"
  kill -0 "$(cat "$PIDS/osd.$OSD_ID.pid")" 2>/dev/null || fail "osd.$OSD_ID exited" "$LOG/osd.$OSD_ID.out" "$LOG/osd.$OSD_ID.log"
  sleep 0.2
done

# ---- the S3 user (radosgw-admin also creates the default realm, zone and pools) ----
timeout "$TIMEOUT" radosgw-admin -c "$CONF" user create --uid=folio --display-name="Folio tests" \
  --access-key="$ACCESS_KEY" --secret-key="$SECRET_KEY" >"$LOG/user.json" 2>"$LOG/radosgw-admin.err" \
  || fail "radosgw-admin user create failed" "$LOG/radosgw-admin.err" "$LOG/osd.$OSD_ID.log"
REGION=$(timeout "$TIMEOUT" radosgw-admin -c "$CONF" zonegroup get 2>/dev/null \
  | "$PY" -c 'import json,sys; z=json.load(sys.stdin); print(z.get("api_name") or z["name"])' 2>/dev/null) \
  || REGION=default

# ---- radosgw ----
daemon rgw.a radosgw -n client.rgw.a
ENDPOINT=http://127.0.0.1:$RGW_PORT
deadline=$(( $(date +%s) + TIMEOUT ))
until curl -s -o /dev/null --max-time 2 "$ENDPOINT/"; do
  [ "$(date +%s)" -lt "$deadline" ] || fail "radosgw did not answer on $ENDPOINT" "$LOG/rgw.a.out" "$LOG/rgw.log"
  kill -0 "$(cat "$PIDS/rgw.a.pid")" 2>/dev/null || fail "radosgw exited" "$LOG/rgw.a.out" "$LOG/rgw.log"
  sleep 0.2
done

# ---- watchdog: stop the daemons if DIR goes away or the owner exits ----
OWNER=${CEPH_NODE_OWNER_PID:-}
bash -c '
  conf=$1 owner=$2; shift 2
  while [ -e "$conf" ] && { [ -z "$owner" ] || kill -0 "$owner" 2>/dev/null; }; do sleep 1; done
  for pid in "$@"; do
    tr "\0" " " <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$conf" && kill -KILL "$pid"
  done
' ceph-node-watchdog "$CONF" "$OWNER" $(cat "$PIDS"/*.pid) </dev/null >/dev/null 2>&1 &
echo $! >"$PIDS/watchdog.pid"

cat >"$DIR/env.tmp" <<EOF
S3_ENDPOINT=$ENDPOINT
S3_ACCESS_KEY=$ACCESS_KEY
S3_SECRET_KEY=$SECRET_KEY
S3_REGION=$REGION
EOF
mv "$DIR/env.tmp" "$DIR/env"
echo "ceph_node.sh: $ENDPOINT ready in $(( ($(date +%s%N) - T0) / 1000000 )) ms (mon 127.0.0.1:$MON_PORT, region $REGION, logs in $LOG)"
