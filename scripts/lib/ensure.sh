# Shared by scripts/run, scripts/test and scripts/bench: install what is missing, idempotently.
# shellcheck shell=bash

APT_PACKAGES=(softhsm2 opensc libpcsclite-dev pcscd gnutls-bin openssl sqlite3 python3 make g++ bsdutils openjdk-17-jdk-headless)
# Tests and demos with the virtual card (installed by scripts/lib/virtual-card.sh start): HTTPS with the
# TLS client key on the card goes through Debian's curl and OpenSSL 3 with the libp11 pkcs11 engine.
CARD_CLIENT_PACKAGES=(curl libengine-pkcs11-openssl)
# The card bureau exchange tested over SFTP against a real local OpenSSH server (test/integration/bureau-sftp.test.ts).
BUREAU_PACKAGES=(openssh-server openssh-client)
# Relying parties that judge our certificates in the integration tests (test/integration/*-relying-party.test.ts):
# NSS's vfychain, nginx and Apache httpd (mod_ssl is in apache2-bin) with client certificates (OCSP and CRL); MIT
# Kerberos with PKINIT (KDC, kinit, and kadmin.local from krb5-admin-server to make the test realm's principals);
# openCryptoki as a second PKCS#11 implementation.
RELYING_PARTY_PACKAGES=(libnss3-tools nginx apache2 krb5-kdc krb5-pkinit krb5-user krb5-admin-server opencryptoki)

log() { printf '[cardpki] %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    log "need root for: $*"; return 1; fi
}

ensure_apt() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# Load generators and peer responders for scripts/bench (cfssl ocspserve: the scale suite's peer).
ensure_bench_tools() {
  ensure_apt apache2-utils wrk golang-cfssl
}

ensure_node() {
  if ! command -v node >/dev/null; then
    log "Node.js >= 20.19 is required (not found on PATH)"; return 1
  fi
  node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' || {
    log "Node.js >= 20.19 is required (found $(node --version))"; return 1; }
}

# npm ci when node_modules is missing or older than the lockfile; then build.
ensure_build() {
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    log "npm ci"
    npm ci --no-audit --no-fund --loglevel=error
  fi
  log "build (tsc)"
  rm -rf dist
  npx --no-install tsc -p tsconfig.json
  chmod +x dist/src/cli/main.js
}

ensure_all() {
  ensure_apt "${APT_PACKAGES[@]}" "${RELYING_PARTY_PACKAGES[@]}"
  ensure_node
  ensure_build
}
