#!/usr/bin/env bash
# The federation example of docs/FEDERATION.md on one host, verbatim: a ministry on PostgreSQL, two
# provinces (江苏 320000, 浙江 330000) and a city under each (南京 320100, 杭州 330100) on SQLite,
# each node with its own web, metrics and federation port, telephony off. The ministry's signed
# node directory reaches every node by itself once the provinces have announced their cities' keys.
#
#   deploy/examples/federation.sh up DIR      create the five nodes in DIR (first time) and start them
#   deploy/examples/federation.sh down DIR    stop them
#
# Environment: MINISTRY_DB  an existing, empty PostgreSQL database for the ministry
#                           (default postgresql://postgres@127.0.0.1:5432/hotline_000000)
#              BASE         first port (default 18300): web BASE+0..4, federation +10..14, metrics +20..24
#              ADMIN_PASSWORD  password of each node's `admin` user (default: printed once)
#              HOTLINE      the hotline command (default: hotline on PATH, else this checkout's .venv)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cmd="${1:-}"; DIR="${2:-}"
[ -n "$cmd" ] && [ -n "$DIR" ] || { sed -n '2,16p' "$0"; exit 2; }
HOTLINE="${HOTLINE:-$(command -v hotline || echo "$ROOT/.venv/bin/hotline")}"
PATH="$(dirname "$HOTLINE"):$PATH"  # `hotline` below is that command (its pid is the node's supervisor)
NODES="m js zj nj hz"

if [ "$cmd" = down ]; then
  for n in $NODES; do
    [ -f "$DIR/$n.pid" ] && kill "$(cat "$DIR/$n.pid")" 2>/dev/null || true
  done
  for n in $NODES; do  # the supervisor stops its processes (SIGTERM, then SIGKILL after 10 s)
    while [ -f "$DIR/$n.pid" ] && kill -0 "$(cat "$DIR/$n.pid")" 2>/dev/null; do sleep 0.5; done
    rm -f "$DIR/$n.pid"
  done
  echo "已停止 $DIR 中的节点"; exit 0
fi
[ "$cmd" = up ] || { echo "用法：$0 up|down DIR" >&2; exit 2; }

MINISTRY_DB="${MINISTRY_DB:-postgresql://postgres@127.0.0.1:5432/hotline_000000}"
BASE="${BASE:-18300}"
ADMIN_PASSWORD="${ADMIN_PASSWORD:-$(head -c 12 /dev/urandom | base64 | tr -d '/+=')}"
mkdir -p "$DIR"
cd "$DIR"

if [ ! -f m/node.toml ]; then
# --- set-up (docs/FEDERATION.md shows exactly these lines) ---
hotline init m  --level ministry --region 000000 --database-url "$MINISTRY_DB" --web-port $((BASE+0)) --federation-port $((BASE+10)) --metrics-port $((BASE+20)) --web-workers 1 --no-telephony
hotline init js --level province --region 320000 --web-port $((BASE+1)) --federation-port $((BASE+11)) --metrics-port $((BASE+21)) --web-workers 1 --no-telephony
hotline init zj --level province --region 330000 --web-port $((BASE+2)) --federation-port $((BASE+12)) --metrics-port $((BASE+22)) --web-workers 1 --no-telephony
hotline init nj --level city     --region 320100 --web-port $((BASE+3)) --federation-port $((BASE+13)) --metrics-port $((BASE+23)) --web-workers 1 --no-telephony
hotline init hz --level city     --region 330100 --web-port $((BASE+4)) --federation-port $((BASE+14)) --metrics-port $((BASE+24)) --web-workers 1 --no-telephony
for n in m js zj nj hz; do hotline -c $n migrate; hotline -c $n admin keygen; done   # ministry: root CA too
hotline -c m  admin enrol js/keys/federation/enrol-request.json -o js.json   # province: certificates, keys
hotline -c js admin import js.json
hotline -c m  admin enrol zj/keys/federation/enrol-request.json -o zj.json
hotline -c zj admin import zj.json
hotline -c js admin enrol nj/keys/federation/enrol-request.json -o nj.json   # city: by its province
hotline -c nj admin import nj.json
hotline -c zj admin enrol hz/keys/federation/enrol-request.json -o hz.json
hotline -c hz admin import hz.json
for n in m js zj nj hz; do hotline -c $n create-user admin --role admin --password "$ADMIN_PASSWORD"; done
# --- end of set-up ---
echo "各节点 admin 用户的密码：$ADMIN_PASSWORD"
fi

# --- start (docs/FEDERATION.md) ---
for n in m js zj nj hz; do hotline -c $n run > $n/logs/run.log 2>&1 & echo $! > $n.pid; done
# --- end of start ---
for n in $NODES; do  # wait until each web server answers (the federation server starts beside it)
  port=$(sed -n '/^\[web\]/,/^\[/s/^port = //p' "$n/node.toml")
  for _ in $(seq 1 240); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    kill -0 "$(cat "$n.pid")" 2>/dev/null || { echo "节点 $n 启动失败，见 $DIR/$n/logs/run.log" >&2; exit 1; }
    sleep 0.5
  done
done
echo "已启动：部 127.0.0.1:$BASE，江苏 +1，浙江 +2，南京 +3，杭州 +4（Web 端口）；停止：$0 down $DIR"
