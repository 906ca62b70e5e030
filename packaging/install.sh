#!/bin/sh
# Installs pvemigrate-dns on ONE Proxmox VE node (run it on every node: the
# snippets directory and /usr/local are local to each node; the config in
# /etc/pve is shared by pmxcfs).
#
#   packaging/install.sh              CLI, hookscript, systemd timer (enabled)
#   packaging/install.sh --cron       CLI, hookscript, /etc/cron.d entry instead of the timer
#   packaging/install.sh --no-enable  install the timer but do not enable it
#   packaging/install.sh --uninstall  remove what this script installs
#
# Environment:
#   DESTDIR  install below this directory instead of / (packaging, tests);
#            nothing is started or enabled through systemctl then, the timer
#            is enabled with the same symlink `systemctl enable` would create
#   DIST     directory holding the built bundles (default: ../dist next to
#            this script; build them with `npm ci` or `npm run build`)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
dist=${DIST:-$here/../dist}
destdir=${DESTDIR:-}

bin=/usr/local/bin/pvemigrate-dns
snippets_dir=/var/lib/vz/snippets
hook_name=pvemigrate-dns.mjs
unit_dir=/etc/systemd/system
service=pvemigrate-dns-reconcile.service
timer=pvemigrate-dns-reconcile.timer
cron_file=/etc/cron.d/pvemigrate-dns

mode=timer
enable=yes
for arg in "$@"; do
  case $arg in
    --cron) mode=cron ;;
    --no-enable) enable=no ;;
    --uninstall) mode=uninstall ;;
    -h | --help)
      sed -n '2,/^set -eu/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "install.sh: unknown argument \"$arg\" (see --help)" >&2
      exit 1
      ;;
  esac
done

say() { printf '%s\n' "$*"; }

# systemctl only acts on the running system; under DESTDIR there is none.
live_systemd() { [ -z "$destdir" ] && command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; }

# Copy to a temp file in the target directory, then rename: a VM starting
# while this runs executes the old hookscript or the new one, never half a file.
put() { # put <source> <target> <mode>
  target=$destdir$2
  mkdir -p "$(dirname "$target")"
  tmp=$target.tmp.$$
  cp "$1" "$tmp"
  chmod "$3" "$tmp"
  mv -f "$tmp" "$target"
  say "installed $2 (mode $3)"
}

if [ "$mode" = uninstall ]; then
  if live_systemd; then systemctl disable --now "$timer" 2>/dev/null || true; fi
  rm -f "$destdir$unit_dir/timers.target.wants/$timer"
  for f in "$bin" "$snippets_dir/$hook_name" "$unit_dir/$service" "$unit_dir/$timer" "$cron_file"; do
    if [ -e "$destdir$f" ]; then
      rm -f "$destdir$f"
      say "removed $f"
    fi
  done
  if live_systemd; then systemctl daemon-reload; fi
  say "VMs that still name local:snippets/$hook_name as their hookscript: remove it with"
  say "  qm set <vmid> --delete hookscript"
  exit 0
fi

for f in pvemigrate-dns.mjs hookscript.mjs; do
  if [ ! -f "$dist/$f" ]; then
    echo "install.sh: $dist/$f is missing: build the bundles first (npm ci, or npm run build), or set DIST" >&2
    exit 1
  fi
done
if ! command -v node >/dev/null 2>&1; then
  say "warning: no \`node\` in PATH; pvemigrate-dns needs Node.js >= 20.12 (apt install nodejs)"
fi

put "$dist/pvemigrate-dns.mjs" "$bin" 755
put "$dist/hookscript.mjs" "$snippets_dir/$hook_name" 755

if [ "$mode" = cron ]; then
  put "$here/cron/pvemigrate-dns" "$cron_file" 644
  # Only one of the two schedules: a timer from an earlier install would double every run.
  rm -f "$destdir$unit_dir/timers.target.wants/$timer"
  if live_systemd; then systemctl disable --now "$timer" 2>/dev/null || true; fi
else
  put "$here/systemd/$service" "$unit_dir/$service" 644
  put "$here/systemd/$timer" "$unit_dir/$timer" 644
  rm -f "$destdir$cron_file"
  if [ "$enable" = yes ]; then
    if live_systemd; then
      systemctl daemon-reload
      systemctl enable --now "$timer"
      say "enabled and started $timer"
    else
      # What `systemctl enable` does for WantedBy=timers.target.
      mkdir -p "$destdir$unit_dir/timers.target.wants"
      ln -sf "$unit_dir/$timer" "$destdir$unit_dir/timers.target.wants/$timer"
      say "enabled $timer (symlink only; not started: no running systemd here)"
    fi
  elif live_systemd; then
    systemctl daemon-reload
  fi
fi

# The hookscript is only usable from a storage with the "snippets" content type.
storage_cfg=$destdir/etc/pve/storage.cfg
if [ -r "$storage_cfg" ]; then
  content=$(awk '/^[a-z]+: /{ s = $2 } s == "local" && $1 == "content" { print $2 }' "$storage_cfg")
  case ",$content," in
    *,snippets,*) ;;
    *)
      say "warning: storage \"local\" does not have the snippets content type (content: ${content:-none})."
      say "  Add it, keeping the types it has:  pvesm set local --content ${content:+$content,}snippets"
      ;;
  esac
fi

say ""
say "Next steps (see packaging/README.md):"
say "  1. config: /etc/pve/pvemigrate-dns.yaml (shared by all nodes), then: pvemigrate-dns config check"
say "  2. run this script on every node of the cluster"
say "  3. attach the hookscript to each VM (once, from any node; root@pam only):"
say "       qm set <vmid> --hookscript local:snippets/$hook_name"
say "     containers: pct set <vmid> --hookscript local:snippets/$hook_name"
