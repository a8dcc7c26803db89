#!/usr/bin/env bash
# The README's test command (`npm run test:all`), also what .ci/run calls, so the two cannot drift. On a fresh machine
# of this project's kind it sets up what the suite needs, then runs it:
#   1. the tools the tests call (xmlsec1, oathtool, xmllint, the OASIS schemas, pysaml2, Chromium, docker-compose):
#      installed with apt-get when missing and we are root; otherwise it stops at once with the exact install line;
#   2. PostgreSQL and Redis: the servers at TEST_PG_URL / TEST_REDIS_URL (default: the local ones) when they answer,
#      otherwise throw-away instances in a temporary folder on free ports, stopped when the run ends.
# `npm run test:sqlite` (this script with `sqlite`) needs neither server nor root: SQLite only, without the tests
# that need PostgreSQL or Redis.
# TEST_SETUP_INSTALL=0 never installs (only reports what is missing); TEST_SETUP_CHECK_ONLY=1 stops after the set-up.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-all}"
[[ "$mode" == all || "$mode" == sqlite ]] || { echo "usage: scripts/test-all.sh [all|sqlite]" >&2; exit 64; }

say() { printf '\033[1m--- %s\033[0m\n' "$*"; }
is_root() { [[ "$(id -u)" == 0 ]]; }

# --- 1. tools: "<how to check>|<Debian package>"
checks=(
  "command -v xmlsec1|xmlsec1"
  "command -v oathtool|oathtool"
  "command -v xmllint|libxml2-utils"
  "test -f /usr/share/xml/opensaml/saml-schema-metadata-2.0.xsd|opensaml-schemas"
  "/usr/bin/python3 -c 'import saml2'|python3-pysaml2"
  "/usr/bin/python3 -c 'import aiosmtpd'|python3-aiosmtpd"
  "test -x /usr/bin/chromium|chromium"
  "command -v docker-compose|docker-compose"
)
missing=()
for c in "${checks[@]}"; do
  eval "${c%%|*}" >/dev/null 2>&1 || missing+=("${c##*|}")
done

# --- 2. services, reachable or startable
pg_url="${TEST_PG_URL:-postgresql://postgres@127.0.0.1:5432/test}"
redis_url="${TEST_REDIS_URL:-redis://127.0.0.1:6379/0}"
answers() { node scripts/test-service-answers.mjs "$1" "$2" >/dev/null 2>&1; }
pg_bin=""
need_pg=0; need_redis=0
if [[ "$mode" == all ]]; then
  if ! answers pg "$pg_url"; then
    need_pg=1
    pg_bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
    [[ -n "$pg_bin" && -x "$pg_bin/initdb" ]] || missing+=(postgresql)
  fi
  if ! answers redis "$redis_url"; then
    need_redis=1
    command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  fi
fi

if [[ ${#missing[@]} -gt 0 ]]; then
  line="apt-get install -y --no-install-recommends ${missing[*]}"
  if is_root && command -v apt-get >/dev/null 2>&1 && [[ "${TEST_SETUP_INSTALL:-1}" != 0 ]]; then
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    pg_bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
  else
    echo "The test suite needs Debian packages that are not installed: ${missing[*]}" >&2
    echo "Install them with:" >&2
    if is_root; then echo "  $line" >&2; else echo "  sudo $line" >&2; fi
    [[ "$mode" == all ]] && echo "(or run the SQLite-only part, which needs no server: npm run test:sqlite)" >&2
    exit 1
  fi
fi

tmp="$(mktemp -d /tmp/broker-test-services.XXXXXX)"
cleanup() {
  if [[ -f "$tmp/redis.pid" ]]; then kill "$(cat "$tmp/redis.pid")" 2>/dev/null || true; fi
  if [[ -d "$tmp/pg" ]]; then as_pg "$pg_bin/pg_ctl" -D "$tmp/pg" -m immediate -w stop >/dev/null 2>&1 || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
# PostgreSQL refuses to run as root: a throw-away cluster run by root belongs to the postgres user.
as_pg() { if is_root; then /usr/sbin/runuser -u postgres -- "$@"; else "$@"; fi; }

if [[ $need_pg == 1 ]]; then
  port="$(free_port)"
  say "PostgreSQL at $pg_url does not answer: starting a throw-away server on port $port"
  if is_root; then chown postgres "$tmp"; fi
  as_pg "$pg_bin/initdb" -D "$tmp/pg" -A trust -U postgres --no-sync >/dev/null
  as_pg "$pg_bin/pg_ctl" -D "$tmp/pg" -l "$tmp/pg.log" -w -o "-p $port -k $tmp -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" start >/dev/null
  as_pg "$pg_bin/createdb" -h 127.0.0.1 -p "$port" -U postgres test
  pg_url="postgresql://postgres@127.0.0.1:$port/test"
fi
if [[ $need_redis == 1 ]]; then
  port="$(free_port)"
  say "Redis at $redis_url does not answer: starting a throw-away server on port $port"
  redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --daemonize yes --pidfile "$tmp/redis.pid" --dir "$tmp" --logfile "$tmp/redis.log"
  for _ in $(seq 1 50); do answers redis "redis://127.0.0.1:$port/0" && break; sleep 0.1; done
  redis_url="redis://127.0.0.1:$port/0"
fi

if [[ "${TEST_SETUP_CHECK_ONLY:-0}" == 1 ]]; then
  echo "ready: TEST_PG_URL=$pg_url TEST_REDIS_URL=$redis_url"
  answers pg "$pg_url" && answers redis "$redis_url" && echo "both answer"
  exit 0
fi

# --- 3. the suite
set +e
if [[ "$mode" == all ]]; then
  say "tests (SQLite, PostgreSQL at $pg_url, Redis at $redis_url)"
  TEST_PG_URL="$pg_url" TEST_REDIS_URL="$redis_url" npx tap "${@:2}" 2>&1 | tee "$tmp/tap.out"
else
  say "tests (SQLite only: no PostgreSQL, no Redis)"
  TEST_SKIP_PG=1 TEST_SKIP_REDIS=1 npx tap --exclude 'test/cluster/**' --exclude 'test/store/redis-*.test.ts' "${@:2}" 2>&1 | tee "$tmp/tap.out"
fi
status=${PIPESTATUS[0]}
set -e
# tap's last summary line, e.g. "# { total: 1200, pass: 1198, fail: 2 }", said plainly.
node -e '
  const m = /# \{ total: (\d+)(?:, pass: (\d+))?(?:, fail: (\d+))?(?:, skip: (\d+))?(?:, todo: (\d+))?/.exec(require("fs").readFileSync(process.argv[1], "utf8").split("\n").reverse().join("\n"));
  if (!m) { console.log("no test summary found"); process.exit(0); }
  const [, , pass = 0, fail = 0, skip = 0, todo = 0] = m;
  console.log(`${pass} passed, ${fail} failed${+skip ? `, ${skip} skipped` : ""}${+todo ? `, ${todo} todo` : ""}`);
' "$tmp/tap.out"
# The failures again, last: CI keeps only the tail of this output, where a failure's own report has long scrolled away.
# Each "not ok" line keeps its indentation (a subtest sits inside its file), followed by the lines of its diagnostic
# block that say where and what: file and line, found / wanted, the diff, an error's message, a process's end.
if [[ $status != 0 ]]; then
  say "what failed"
  awk '/^ *not ok /{print; inblock=1; indiff=0; next}
       inblock && $1=="..." {inblock=0; next}
       inblock && /^ *diff: \|/ {indiff=1; next}
       inblock && (/^ *(fileName|lineNumber|found|wanted|message|code|signal|exitCode|timeout):/ || (indiff && /^ *[-+][^-+]/)) {print}' \
    "$tmp/tap.out" | head -100
fi
exit $status
