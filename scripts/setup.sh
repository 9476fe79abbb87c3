#!/usr/bin/env bash
# Installs what Gatehouse needs on Debian 12, only what is missing:
#   scripts/setup.sh            build + test dependencies (Debian packages, npm test packages)
#   scripts/setup.sh --runtime  only what building and serving need (Node and npm included: the
#                               build bundles the console's npm packages, ui/package-lock.json)
#   scripts/setup.sh --bench    also wrk and nginx for bench/
#   scripts/setup.sh --fuzz     also clang and libFuzzer for tests/fuzz (docs/fuzzing.md)
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-test}
packages=(g++ cmake ninja-build ccache pkg-config ca-certificates openssl curl
          libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev libssl-dev
          libsimdjson-dev libyaml-cpp-dev libspdlog-dev libcli11-dev libsqlite3-dev libpq-dev
          libhyperscan-dev libhiredis-dev
          libphonenumber8 libprotobuf-dev libabsl-dev
          nodejs npm)
if [[ $mode != --runtime ]]; then
  # sqlite3: the records tests tamper with the audit table; prometheus: promtool checks /metrics
  # and a real Prometheus server scrapes it; redis-server: the scale-out tests share limits in it;
  # postgresql: the PostgreSQL store's tests start their own server (initdb, postgres, psql from
  # /usr/lib/postgresql/*/bin; tests/e2e/postgres.mjs).
  # chromium: the console's tests drive it headless (puppeteer-core, tests/e2e/console.test.mjs).
  packages+=(libgtest-dev libgmock-dev sqlite3 prometheus redis-server postgresql chromium)
fi
if [[ $mode == --bench ]]; then
  packages+=(wrk nginx-light libbenchmark-dev)
fi
if [[ $mode == --fuzz ]]; then
  # clang 14 (Debian 12's) and its runtime libraries: libFuzzer, ASan, UBSan.
  packages+=(clang libclang-rt-14-dev)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# A machine may carry its own node/npm outside Debian's packages: that is fine too.
if command -v node >/dev/null && command -v npm >/dev/null; then
  filtered=()
  for p in "${missing[@]}"; do [[ $p == nodejs || $p == npm ]] || filtered+=("$p"); done
  missing=("${filtered[@]+"${filtered[@]}"}")
fi

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=""
  if [[ $(id -u) != 0 ]]; then sudo="sudo"; fi
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# libphonenumber's headers: Debian 12's libphonenumber-dev depends on libboost-thread-dev, i.e.
# Boost 1.74, which cannot be installed beside libboost1.81-dev (apt refuses the conflict). The
# library itself (libphonenumber8) and the headers' own dependencies (protobuf, abseil) install
# fine, so the -dev package is fetched with `apt-get download` and only its headers are unpacked
# into .deps/libphonenumber/ (gitignored), where src/guard/CMakeLists.txt looks for them. The
# binary links the runtime libphonenumber.so.8; nothing of Boost 1.74 is used.
phonenumber_headers=.deps/libphonenumber/usr/include/phonenumbers/phonenumberutil.h
if [[ ! -f $phonenumber_headers ]]; then
  echo "setup: unpacking libphonenumber-dev's headers into .deps/libphonenumber"
  tmp=$(mktemp -d)
  # apt-get download as root drops to the _apt user, which must be able to write here.
  chmod 777 "$tmp"
  # The headers of the very version of the library installed.
  want="libphonenumber-dev=$(dpkg-query -W -f='${Version}' libphonenumber8)"
  download() { (cd "$tmp" && apt-get download -q "$want" 2>&1 | grep -v "_apt" || true); }
  download
  if ! ls "$tmp"/libphonenumber-dev_*.deb >/dev/null 2>&1; then
    # No package lists (a container that cleaned them): fetch them, then try again.
    sudo=""
    if [[ $(id -u) != 0 ]]; then sudo="sudo"; fi
    $sudo apt-get update -q
    download
  fi
  deb=$(ls "$tmp"/libphonenumber-dev_*.deb 2>/dev/null | head -n1 || true)
  if [[ -z $deb ]]; then
    rm -rf "$tmp"
    echo "setup: could not download libphonenumber-dev (apt-get update, network?)" >&2
    exit 1
  fi
  dpkg-deb -x "$deb" "$tmp/root"
  mkdir -p .deps/libphonenumber/usr
  rm -rf .deps/libphonenumber/usr/include
  cp -r "$tmp/root/usr/include" .deps/libphonenumber/usr/include
  rm -rf "$tmp"
fi

# nginx-light's package starts a system nginx on port 80; the benchmark runs its own.
if [[ $mode == --bench ]] && command -v systemctl >/dev/null; then
  systemctl stop nginx 2>/dev/null || true
fi

# The console's packages (esbuild, uPlot), exactly as the committed lockfile names them. The
# build itself never fetches anything: it bundles what this installed (ui/README.md).
if [[ ! -d ui/node_modules || ui/package-lock.json -nt ui/node_modules ]]; then
  echo "setup: installing the console's build packages (npm ci in ui/)"
  (cd ui && npm ci --no-audit --no-fund --loglevel=error)
  touch ui/node_modules
fi

if [[ $mode != --runtime ]]; then
  if [[ ! -d tests/e2e/node_modules || tests/e2e/package-lock.json -nt tests/e2e/node_modules ]]; then
    echo "setup: installing the end-to-end test packages (npm ci)"
    (cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)
  fi
fi
