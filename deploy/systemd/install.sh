#!/usr/bin/env bash
# Installs the node's systemd units (run as root on the node's machine):
#   deploy/systemd/install.sh [/opt/hotline] [/srv/hotline/node]
# Creates the `hotline` system user, rewrites the code and node paths if they differ from the
# defaults, installs the units and reloads systemd. Enable with `systemctl enable --now hotline.target`.
set -euo pipefail
CODE=${1:-/opt/hotline}; NODE=${2:-/srv/hotline/node}
here=$(cd "$(dirname "$0")" && pwd)
id hotline >/dev/null 2>&1 || useradd --system --home-dir "$NODE" --shell /usr/sbin/nologin hotline
chown -R hotline:hotline "$NODE"
for f in "$here"/*.service "$here"/*.target; do
  sed -e "s#/opt/hotline#$CODE#g" -e "s#/srv/hotline/node#$NODE#g" "$f" > "/etc/systemd/system/$(basename "$f")"
done
systemctl daemon-reload
systemd-analyze verify /etc/systemd/system/hotline*.service /etc/systemd/system/hotline.target
echo "已安装。启动：systemctl enable --now hotline.target"
