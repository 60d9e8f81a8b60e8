#!/usr/bin/env bash
# A virtual PIV smart card on a REAL PC/SC stack, for tests on a bare Debian 12 (root, no systemd, no hardware):
#
#   pcscd --foreground (backgrounded by us) loads the vsmartcard "vpcd" IFD handler (/etc/reader.conf.d/vpcd),
#     which listens on :35963 as reader "Virtual PCD 00 00" (and :35964 as "Virtual PCD 00 01");
#   dist/test/support/piv-emulator.js (a PIV applet emulator, YubiKey-like) connects to vpcd and appears as
#     a card inserted in that reader: PIN 123456, PUK 12345678, 3DES management key 0102..08 x3;
#   clients: node pcsclite, OpenSC (opensc-tool, pkcs15-tool, opensc-pkcs11.so), yubico-piv-tool -r 'Virtual PCD 00 00'.
#
# Usage: scripts/lib/virtual-card.sh start|stop|restart|status|card-stop|card-start
#   start       install what is missing, start pcscd and the emulator, wait until the card is present
#               (a running stack of ours is restarted; a pcscd we did not start is refused)
#   stop        stop the emulator and pcscd (TERM, then KILL), remove the route; no process is left behind
#   restart     stop + start
#   status      what runs, and opensc-tool -l; exit 0 only if the card is present
#   card-stop   stop only the emulator ("pull the card") and wait until PC/SC reports it absent
#   card-start  (re)start only the emulator ("insert the card") and wait until PC/SC reports it present
#
# Environment:
#   CARDPKI_VCARD_DIR          runtime files: pid files, logs (default data/virtual-card; relative paths are
#                              relative to the repository root, for all variables)
#   CARDPKI_VCARD_STATE        JSON file the emulator loads and saves the card in (default: none, a fresh card
#                              on every start / card-start)
#   CARDPKI_VCARD_SERIAL       card serial, decimal (default 12648430 = 0x00c0ffee)
#   CARDPKI_VCARD_MAKER_DIR    the TEST card-maker root that signs each card's attestation key (slot f9):
#                              made there on first start (default $CARDPKI_VCARD_DIR/maker, git-ignored).
#                              Trusted only where a test or the virtual-card demo installs maker-root.pem as an
#                              attestation root (ca-store/attestation-roots/<set>/); never a production root.
#   CARDPKI_VCARD_NO_ATTESTATION=1  a card without attestation (no f9 key, INS F9 not supported)
#   CARDPKI_VCARD_VERBOSE=1    log every APDU (emulator) and pcscd debug + APDUs
#   CARDPKI_VCARD_NO_QUICKACK=1  connect over plain 127.0.0.1 (no route; ~40 ms per APDU)
#   card-start uses CARDPKI_VCARD_STATE / CARDPKI_VCARD_SERIAL if set, otherwise the values given to start
#   (so "CARDPKI_VCARD_SERIAL=2 card-start" inserts another card); CARDPKI_VCARD_NO_ATTESTATION applies
#   to the card being started only.
#
# Why a route: vpcd sends the 2-byte length and the APDU in two send() calls, so Nagle + delayed ACK cost
# ~40 ms per APDU on plain loopback (OpenSC's PKCS#11 module needs 100+ APDUs). A /32 loopback route with
# "quickack 1" for 127.0.0.2, which the card connects from/to, brings it under 1.5 ms.
set -euo pipefail
cd "$(dirname "$0")/../.."

RUN=${CARDPKI_VCARD_DIR:-data/virtual-card}
EMULATOR=dist/test/support/piv-emulator.js
READER="Virtual PCD 00 00"
VPCD_PORT=35963
QUICKACK_HOST=127.0.0.2
PCSCD_SOCK=/run/pcscd/pcscd.comm
VERBOSE=${CARDPKI_VCARD_VERBOSE:-0}

ms() { date +%s%3N; }
say() { printf '[virtual-card %s] %s\n' "$(date +%T.%3N)" "$*"; }
die() { printf '[virtual-card] ERROR: %s\n' "$*" >&2; exit 1; }

# ------------------------------------------------------------------ processes

# pid from a pid file, only if that process is alive and is what we started (guards against pid reuse)
our_pid() { # name: pcscd|emulator
  local f=$RUN/$1.pid pid
  [ -f "$f" ] || return 1
  pid=$(cat "$f" 2>/dev/null) || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  case $1 in
    # by its command line: just after `setsid pcscd` the process may not have exec'd pcscd yet (comm "setsid")
    pcscd) tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -Eq '(^| )pcscd --foreground' || return 1 ;;
    emulator) tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'piv-emulator' || return 1 ;;
  esac
  ! gone "$pid" || return 1
  echo "$pid"
}

# exited: gone, or a zombie waiting for its parent (init here; it may reap only every few seconds)
gone() { local st; st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 0; [ -z "$st" ] || [ "$st" = Z ]; }

# TERM, wait up to 5 s, KILL. With "reap", also wait (up to 5 s) until the zombies are reaped, so that
# pgrep shows nothing afterwards. The processes are signalled together: init reaps only every ~2 s here.
terminate() { # [reap] name...
  local reap=0 name pid pids=() names=()
  if [ "$1" = reap ]; then reap=1; shift; fi
  for name in "$@"; do
    if pid=$(our_pid "$name"); then pids+=("$pid"); names+=("$name"); kill -TERM "$pid" 2>/dev/null || true; fi
    rm -f "$RUN/$name.pid"
  done
  [ ${#pids[@]} -gt 0 ] || return 0
  all_gone() { local p; for p in "${pids[@]}"; do gone "$p" || return 1; done; }
  for _ in $(seq 1 100); do all_gone && break; sleep 0.05; done
  local i
  for i in "${!pids[@]}"; do
    if ! gone "${pids[$i]}"; then
      say "${names[$i]} (pid ${pids[$i]}) ignored TERM: KILL"
      kill -KILL "${pids[$i]}" 2>/dev/null || true
    fi
  done
  for _ in $(seq 1 40); do all_gone && break; sleep 0.05; done
  if [ $reap = 1 ]; then
    all_reaped() { local p; for p in "${pids[@]}"; do [ ! -e "/proc/$p" ] || return 1; done; }
    for _ in $(seq 1 100); do all_reaped && break; sleep 0.05; done
  fi
  for i in "${!pids[@]}"; do say "stopped ${names[$i]} (pid ${pids[$i]})"; done
}

# pcscd processes that are not ours (zombies excluded)
foreign_pcscd() {
  local mine; mine=$(our_pid pcscd || true)
  { ps -C pcscd -o pid=,stat= 2>/dev/null || true; } | awk -v mine="$mine" '$2 !~ /Z/ && $1 != mine {print $1}' | tr '\n' ' ' | sed 's/ $//'
}

# ------------------------------------------------------------------ PC/SC probes

card_present() { opensc-tool -l 2>/dev/null | grep -Eq "^[0-9]+ +Yes .*$READER\$"; }

reader_listed() { opensc-tool -l 2>/dev/null | grep -q "$READER"; }

wait_card() { # present|absent timeout_s
  local n=$(($2 * 10))
  for _ in $(seq 1 "$n"); do
    if [ "$1" = present ]; then card_present && return 0; else reader_listed && ! card_present && return 0; fi
    sleep 0.1
  done
  return 1
}

vpcd_host() { cat "$RUN/vpcd-host" 2>/dev/null || echo 127.0.0.1; }

# ------------------------------------------------------------------ steps

install_deps() {
  # shellcheck source=ensure.sh
  . scripts/lib/ensure.sh
  local pkgs=(pcscd vsmartcard-vpcd libpcsclite-dev opensc yubico-piv-tool pcsc-tools iproute2 "${CARD_CLIENT_PACKAGES[@]}")
  local attempt
  for attempt in 1 2 3 4 5 6; do
    ensure_apt "${pkgs[@]}" && return 0
    # most likely the dpkg lock (another apt-get running): wait and retry
    say "installing ${pkgs[*]} failed (attempt $attempt); retrying in 20 s"
    sleep 20
  done
  die "could not install ${pkgs[*]} (see the apt-get messages above)"
}

quickack_route() {
  rm -f "$RUN/route-added"
  if [ "${CARDPKI_VCARD_NO_QUICKACK:-0}" = 1 ]; then
    echo 127.0.0.1 >"$RUN/vpcd-host"
    say "CARDPKI_VCARD_NO_QUICKACK=1: card connects to 127.0.0.1 (expect ~40 ms per APDU)"
    return
  fi
  if ip route replace local "$QUICKACK_HOST/32" dev lo table local quickack 1 2>/dev/null; then
    echo "$QUICKACK_HOST" >"$RUN/vpcd-host"
    touch "$RUN/route-added"
    say "route: local $QUICKACK_HOST/32 dev lo quickack 1"
  else
    echo 127.0.0.1 >"$RUN/vpcd-host"
    say "WARN: could not add the quickack route (no CAP_NET_ADMIN?); card connects to 127.0.0.1 (expect ~40 ms per APDU)"
  fi
}

remove_route() {
  if [ -f "$RUN/route-added" ]; then
    ip route del local "$QUICKACK_HOST/32" dev lo table local 2>/dev/null || true
    rm -f "$RUN/route-added"
    say "route: removed $QUICKACK_HOST/32"
  fi
}

start_pcscd() {
  local dbg=(--info)
  [ "$VERBOSE" = 1 ] && dbg=(--debug --apdu)
  # a pcscd killed with KILL leaves its socket and pid file behind; nobody else runs one (checked)
  rm -f "$PCSCD_SOCK" /run/pcscd/pcscd.pid
  setsid pcscd --foreground "${dbg[@]}" </dev/null >"$RUN/pcscd.log" 2>&1 &
  echo $! >"$RUN/pcscd.pid"
  local i
  for i in $(seq 1 100); do
    [ -S "$PCSCD_SOCK" ] && ss -ltn 2>/dev/null | grep -q ":$VPCD_PORT " && break
    our_pid pcscd >/dev/null || break
    sleep 0.05
  done
  if ! our_pid pcscd >/dev/null; then
    tail -20 "$RUN/pcscd.log" >&2 || true
    die "pcscd exited at startup (log: $RUN/pcscd.log)"
  fi
  # A pcscd left running would keep the caller's lock (it inherits the descriptor): stop it before giving up.
  [ -S "$PCSCD_SOCK" ] || { tail -20 "$RUN/pcscd.log" >&2; terminate pcscd; die "pcscd socket $PCSCD_SOCK did not appear (log: $RUN/pcscd.log)"; }
  ss -ltn 2>/dev/null | grep -q ":$VPCD_PORT " \
    || { tail -20 "$RUN/pcscd.log" >&2; terminate pcscd; die "vpcd is not listening on :$VPCD_PORT (is vsmartcard-vpcd installed? log: $RUN/pcscd.log)"; }
}

# serial / state: environment first, then what start saved
start_emulator() {
  [ -f "$EMULATOR" ] || die "$EMULATOR is missing: build first (npx tsc -p tsconfig.json)"
  [ -d node_modules/@noble/curves ] || die "node_modules/@noble/curves is missing: run npm ci"
  local serial=${CARDPKI_VCARD_SERIAL:-$(cat "$RUN/serial" 2>/dev/null || true)}
  local state=${CARDPKI_VCARD_STATE:-$(cat "$RUN/state-file" 2>/dev/null || true)}
  local args=(--host "$(vpcd_host)" --port "$VPCD_PORT")
  if [ -n "$serial" ]; then
    [[ "$serial" =~ ^[0-9]+$ ]] || die "CARDPKI_VCARD_SERIAL must be a decimal number (got '$serial')"
    args+=(--serial "$serial")
  fi
  [ -n "$state" ] && args+=(--state "$state")
  if [ "${CARDPKI_VCARD_NO_ATTESTATION:-0}" = 1 ]; then args+=(--no-attestation); else args+=(--maker "${CARDPKI_VCARD_MAKER_DIR:-$RUN/maker}"); fi
  [ "$VERBOSE" = 1 ] && args+=(--verbose)
  setsid node "$EMULATOR" "${args[@]}" </dev/null >>"$RUN/emulator.log" 2>&1 &
  echo $! >"$RUN/emulator.pid"
  sleep 0.05
  if ! our_pid emulator >/dev/null; then
    sleep 0.3
    our_pid emulator >/dev/null || { tail -20 "$RUN/emulator.log" >&2; die "the emulator exited at startup (log: $RUN/emulator.log)"; }
  fi
}

# ------------------------------------------------------------------ subcommands

cmd_start() {
  local t0 t1 t2 t3
  t0=$(ms)
  mkdir -p "$RUN"
  install_deps
  [ -f "$EMULATOR" ] || die "$EMULATOR is missing: build first (npx tsc -p tsconfig.json)"

  local other; other=$(foreign_pcscd)
  if [ -n "$other" ]; then
    die "a pcscd we did not start is running (pid $other); it owns $PCSCD_SOCK. Stop it first (kill $other), then retry."
  fi
  if our_pid pcscd >/dev/null || our_pid emulator >/dev/null; then
    say "our virtual card stack is already running: restarting it"
  fi
  cmd_stop >/dev/null
  t1=$(ms)
  if ss -ltn 2>/dev/null | grep -q ":$VPCD_PORT "; then
    die "port $VPCD_PORT is already in use by another process (ss -ltnp 'sport = :$VPCD_PORT')"
  fi

  : >"$RUN/emulator.log"
  if [ -n "${CARDPKI_VCARD_SERIAL:-}" ]; then echo "$CARDPKI_VCARD_SERIAL" >"$RUN/serial"; else rm -f "$RUN/serial"; fi
  if [ -n "${CARDPKI_VCARD_STATE:-}" ]; then echo "$CARDPKI_VCARD_STATE" >"$RUN/state-file"; else rm -f "$RUN/state-file"; fi
  quickack_route

  start_pcscd
  t2=$(ms)
  say "pcscd pid $(our_pid pcscd) ready in $((t2 - t1)) ms (vpcd listening on :$VPCD_PORT)"

  start_emulator
  if ! wait_card present 15; then
    tail -20 "$RUN/emulator.log" >&2 || true
    cmd_stop >/dev/null 2>&1 || true
    die "the card did not appear in '$READER' within 15 s (logs: $RUN/pcscd.log $RUN/emulator.log); stack stopped"
  fi
  t3=$(ms)
  say "card present in '$READER' after $((t3 - t2)) ms (emulator pid $(our_pid emulator), vpcd host $(vpcd_host))"
  say "startup total $((t3 - t0)) ms (dependency check/install and stopping a previous stack $((t1 - t0)) ms)"
  cat <<EOF
  reader  : $READER      (yubico-piv-tool -r '$READER' ...)
  ATR     : $(opensc-tool -r "$READER" -a 2>/dev/null || echo '?')
  defaults: PIN 123456  PUK 12345678  management key 010203040506070801020304050607080102030405060708 (3DES)
  attest  : yubico-piv-tool -r '$READER' -a attest -s 9a  (TEST maker root: ${CARDPKI_VCARD_MAKER_DIR:-$RUN/maker}/maker-root.pem)
  PKCS#11 : /usr/lib/x86_64-linux-gnu/opensc-pkcs11.so
  logs    : $RUN/pcscd.log  $RUN/emulator.log
  stop    : scripts/lib/virtual-card.sh stop
EOF
}

cmd_stop() {
  mkdir -p "$RUN"
  terminate reap emulator pcscd
  remove_route
  rm -f "$RUN/vpcd-host"
}

cmd_status() {
  local rc=0 pid
  for p in pcscd emulator; do
    if pid=$(our_pid "$p"); then echo "$p: running (pid $pid)"; else echo "$p: stopped"; rc=1; fi
  done
  local other; other=$(foreign_pcscd)
  [ -n "$other" ] && echo "foreign pcscd: pid $other"
  if our_pid pcscd >/dev/null; then
    if [ -f "$RUN/route-added" ]; then echo "vpcd host: $(vpcd_host) (quickack route)"; else echo "vpcd host: $(vpcd_host)"; fi
  fi
  if our_pid pcscd >/dev/null || [ -n "$other" ]; then
    opensc-tool -l 2>&1 || true
    if card_present; then echo "card: present in '$READER'"; else echo "card: absent"; rc=1; fi
  else
    echo "card: absent (no pcscd)"
  fi
  return $rc
}

cmd_card_stop() {
  our_pid pcscd >/dev/null || die "pcscd is not running (scripts/lib/virtual-card.sh start)"
  local t0; t0=$(ms)
  terminate emulator
  wait_card absent 10 || die "PC/SC still reports a card in '$READER' 10 s after the emulator stopped"
  say "card removed from '$READER' ($(($(ms) - t0)) ms)"
}

cmd_card_start() {
  our_pid pcscd >/dev/null || die "pcscd is not running (scripts/lib/virtual-card.sh start)"
  local t0; t0=$(ms)
  if our_pid emulator >/dev/null; then
    say "emulator already running (pid $(our_pid emulator))"
  else
    start_emulator
  fi
  wait_card present 15 || { tail -20 "$RUN/emulator.log" >&2 || true; die "the card did not appear in '$READER' within 15 s (log: $RUN/emulator.log)"; }
  say "card present in '$READER' after $(($(ms) - t0)) ms (emulator pid $(our_pid emulator))"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  restart) cmd_stop; cmd_start ;;
  status) cmd_status ;;
  card-stop) cmd_card_stop ;;
  card-start) cmd_card_start ;;
  *) echo "usage: $0 start|stop|restart|status|card-stop|card-start   (see the header of this script)" >&2; exit 2 ;;
esac
