#!/usr/bin/env bash
# Shared set-up for run.sh and test.sh: makes sure PostgreSQL with PostGIS is installed and
# running on 127.0.0.1:5432. Idempotent: does nothing that is already done.
set -euo pipefail

PG_HOST=${PGHOST:-127.0.0.1}
PG_PORT=${PGPORT:-5432}
PG_USER=${PGUSER:-postgres}

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# 32 random bytes in hex: a signing key for access tokens.
random_secret() { od -An -N32 -tx1 /dev/urandom | tr -d ' \n'; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
  log "installing $*"
  export DEBIAN_FRONTEND=noninteractive
  # A stale package list is the usual reason an install fails on a fresh machine.
  if ! as_root apt-get install -y -qq "$@" >/dev/null 2>&1; then
    as_root apt-get update -qq
    as_root apt-get install -y -qq "$@" >/dev/null
  fi
}

pg_major() {
  ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -n 1
}

ensure_postgres() {
  if [ -z "$(pg_major)" ]; then
    apt_install postgresql postgresql-contrib
  fi
  local major
  major=$(pg_major)
  if [ ! -f "/usr/share/postgresql/$major/extension/postgis.control" ]; then
    apt_install "postgresql-$major-postgis-3"
  fi
  if ! pg_isready -q -h "$PG_HOST" -p "$PG_PORT"; then
    log "starting PostgreSQL $major"
    as_root pg_ctlcluster --skip-systemctl-redirect "$major" main start || true
    for _ in $(seq 1 30); do
      pg_isready -q -h "$PG_HOST" -p "$PG_PORT" && break
      sleep 1
    done
  fi
  pg_isready -q -h "$PG_HOST" -p "$PG_PORT" || { log "PostgreSQL is not answering on $PG_HOST:$PG_PORT"; exit 1; }
}

ensure_database() {
  local name=$1
  if ! psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname = '$name'" | grep -q 1; then
    log "creating database $name"
    psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -qc "CREATE DATABASE \"$name\""
  fi
}

ensure_rust() {
  command -v cargo >/dev/null || { log "cargo is required: install Rust from your distribution or rustup"; exit 1; }
}

# The project's Python virtualenv (.venv), with the packages of REQUIREMENTS installed.
ensure_venv() {
  if [ ! -x .venv/bin/python ]; then
    if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
      apt_install python3-venv
    fi
    log "creating the Python virtualenv (.venv)"
    python3 -m venv .venv
  fi
  .venv/bin/pip install -q --disable-pip-version-check -r "$1"
}

# A TCP port free on 127.0.0.1 right now.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Node.js >= 20.19 (Vite 8's floor) and npm on the PATH. Debian 12 ships Node 18, so when the
# machine's node is missing or older, Node 22 and npm 10 are installed from the npm registry
# (packages node-linux-<arch> and npm) into .tools/node, using the distribution's npm once.
LOCAL_NODE=.tools/node
node_ok() {
  command -v node >/dev/null && command -v npm >/dev/null \
    && node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>20||(a===20&&b>=19)?0:1)'
}

use_local_node() {
  local arch
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64) arch=arm64 ;;
    *) log "no Node.js package for $(uname -m): install Node.js >= 20.19 yourself"; exit 1 ;;
  esac
  local bin=$PWD/$LOCAL_NODE/node_modules/node-linux-$arch/bin
  if [ ! -x "$bin/node" ] || [ ! -e "$PWD/$LOCAL_NODE/node_modules/.bin/npm" ]; then
    command -v npm >/dev/null || apt_install nodejs npm
    log "installing Node.js 22 and npm 10 from the npm registry into $LOCAL_NODE"
    npm install --prefix "$LOCAL_NODE" --no-audit --no-fund --loglevel=error \
      "node-linux-$arch@22" "npm@10" </dev/null
  fi
  export PATH="$bin:$PWD/$LOCAL_NODE/node_modules/.bin:$PATH"
}

ensure_node() {
  node_ok && return 0
  use_local_node
  node_ok || { log "Node.js >= 20.19 with npm could not be set up"; exit 1; }
}
