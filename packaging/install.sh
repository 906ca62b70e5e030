#!/bin/sh
# Installs pvemigrate-dns on ONE Proxmox VE node (run it on every node: the
# snippets directory and /usr/local are local to each node; the config in
# /etc/pve is shared by pmxcfs).
#
#   packaging/install.sh              CLI, hookscript, systemd timer (enabled), the hook
#                                     service's socket (enabled), logrotate entry
#   packaging/install.sh --cron       the same with an /etc/cron.d entry instead of the timer
#   packaging/install.sh --no-enable  install the timer but do not enable it
#   packaging/install.sh --uninstall  remove what this script installs; the
#                                     hookscript becomes a no-op (packaging/README.md)
#
# Environment:
#   DESTDIR  install below this directory instead of / (packaging, tests);
#            nothing is started or enabled through systemctl then, the timer
#            is enabled with the same symlink `systemctl enable` would create
#   DIST     directory holding the built bundles (default: ../dist next to
#            this script; build them with `npm ci` or `npm run build`)
#   NODE     the Node.js (>= 18.19) to run them with (default: `node` in PATH);
#            its absolute path is written into their first line, because
#            Proxmox runs hookscripts with PATH=/sbin:/bin:/usr/sbin:/usr/bin
set -eu

here=$(cd "$(dirname "$0")" && pwd)
dist=${DIST:-$here/../dist}
destdir=${DESTDIR:-}

bin=/usr/local/bin/pvemigrate-dns
# The CLI file itself, a small CommonJS launcher; $bin is a relative symlink to
# it. Node runs the real path of a linked script and picks the module format by
# its name: .cjs spares every start the ESM loader (scripts/build.mjs).
cli=/usr/local/lib/pvemigrate-dns/pvemigrate-dns.cjs
cli_link=../lib/pvemigrate-dns/pvemigrate-dns.cjs
# The name the hookscript looks for the CLI by (hooks/full-cli.ts): a link to $cli.
cli_name=/usr/local/lib/pvemigrate-dns/pvemigrate-dns.mjs
# The full CLI, which $cli (a small launcher: `dns set` runs without it) imports
# from its own directory for every other command.
cli_full=/usr/local/lib/pvemigrate-dns/pvemigrate-dns-full.mjs
snippets_dir=/var/lib/vz/snippets
# Guests name $hook_name (local:snippets/pvemigrate-dns.mjs): a symlink to
# $hook_file, the CommonJS bundle. Node picks the module format by the real
# path, and a .mjs would go through its slower ESM loader at every hook phase.
hook_name=pvemigrate-dns.mjs
hook_file=pvemigrate-dns.cjs
unit_dir=/etc/systemd/system
service=pvemigrate-dns-reconcile.service
timer=pvemigrate-dns-reconcile.timer
# The hookscript's hand-off: systemd starts the service on the socket's first connection.
hook_socket=pvemigrate-dns-hook.socket
hook_service=pvemigrate-dns-hook.service
cron_file=/etc/cron.d/pvemigrate-dns
logrotate_file=/etc/logrotate.d/pvemigrate-dns
# What Proxmox runs a hookscript with (pve-common PVE::CLIHandler/PVE::Daemon,
# the HA LRM), and nothing else from our environment.
pve_path=/sbin:/bin:/usr/sbin:/usr/bin
# Left in place of the hookscript by --uninstall: a guest that still names it
# must keep starting (GuestHelpers check_hookscript aborts pre-start when the
# file is missing or not executable).
noop_marker='# pvemigrate-dns: uninstalled; this no-op keeps guests that still name it starting'

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
die() {
  printf 'install.sh: %s\n' "$*" >&2
  exit 1
}

# systemctl only acts on the running system; under DESTDIR there is none.
live_systemd() { [ -z "$destdir" ] && command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; }

# A temp name next to <file> that keeps its extension: node picks the module
# format of the file it runs by its name (.mjs; no extension: CommonJS before
# Node 20.19, detected after), and the
# installed file is run under this name before it is renamed.
temp_for() { printf '%s/.tmp-%s-%s' "$(dirname "$1")" "$$" "$(basename "$1")"; }

# Copy to a temp file in the target directory, then rename: a VM starting
# while this runs executes the old hookscript or the new one, never half a file.
# With an interpreter, the source's `#!` line is replaced by `#!<interpreter>`,
# and the temp file must start under Proxmox's PATH (the given check) before
# it replaces anything.
put() { # put <source> <target> <mode> [<interpreter> <check>]
  target=$destdir$2
  mkdir -p "$(dirname "$target")"
  tmp=$(temp_for "$target")
  if [ $# -ge 5 ]; then
    { printf '#!%s\n' "$4" && tail -n +2 "$1"; } >"$tmp"
    chmod "$3" "$tmp"
    if ! why=$($5 "$tmp"); then
      rm -f "$tmp"
      die "$2 would not start under PATH=$pve_path with $4: $why"
    fi
  else
    cp "$1" "$tmp"
    chmod "$3" "$tmp"
  fi
  mv -f "$tmp" "$target"
  say "installed $2 (mode $3${4:+, runs $4})"
}

# The Node.js the bundles will run with: $NODE, else `node` in PATH; resolved
# to its real absolute path (the binary whose version is checked here), which
# is exactly what the kernel runs from the #! line whatever PATH the caller
# has: Proxmox's lacks /usr/local/bin, nvm and n.
find_node() {
  node=${NODE:-$(command -v node 2>/dev/null || true)}
  [ -n "$node" ] ||
    die "no Node.js found: no \`node\` in PATH. Install it (apt install nodejs) or name it: NODE=/path/to/node $0"
  real=$(readlink -f -- "$node" 2>/dev/null || true)
  [ -n "$real" ] && [ -f "$real" ] && [ -x "$real" ] || die "NODE=$node is not an executable file"
  nl='
'
  case $real in
    *' '* | *'	'* | *"$nl"*) die "$real: a #! line cannot name a path with blanks; link node from a plain path and set NODE" ;;
  esac
  # Linux reads at most 255 bytes of a #! line (BINPRM_BUF_SIZE 256).
  [ ${#real} -le 250 ] || die "$real: path too long for a #! line; link node from a shorter path and set NODE"
  version=$("$real" --version 2>/dev/null || true)
  case $version in
    v[0-9]*.[0-9]*) ;;
    *) die "$real does not run as Node.js (--version said \"$version\")" ;;
  esac
  major=${version#v}
  major=${major%%.*}
  minor=${version#v*.}
  minor=${minor%%.*}
  # The bundles' minimum: lib/node-version.ts (test/node-version.test.ts keeps the two equal).
  if [ "$major" -lt 18 ] || { [ "$major" -eq 18 ] && [ "$minor" -lt 19 ]; }; then
    die "$real is Node.js $version; pvemigrate-dns needs >= 18.19 (apt install nodejs), or set NODE"
  fi
  node=$real
}

# Each check runs the file as Proxmox would (empty environment but PATH and
# LC_ALL, stdin from /dev/null) in a way that reads no config and changes
# nothing, and prints why it failed.
starts_as_hook() { # bad arguments: rejected before anything else happens
  out=$(env -i PATH=$pve_path LC_ALL=C "$1" x pre-start </dev/null 2>&1) && code=0 || code=$?
  case $code:$out in
    1:*'is not a VM id'*) return 0 ;;
  esac
  printf 'exit %s: %s' "$code" "$(printf '%s' "$out" | tail -n 3 | tr '\n' ' ')"
  return 1
}
starts_as_cli() {
  out=$(env -i PATH=$pve_path LC_ALL=C "$1" --version </dev/null 2>&1) && code=0 || code=$?
  [ "$code" = 0 ] && return 0
  printf 'exit %s: %s' "$code" "$(printf '%s' "$out" | tail -n 3 | tr '\n' ' ')"
  return 1
}

# Guests of the whole cluster (every node's configs are in pmxcfs) whose
# hookscript is ours, as "qm <vmid>" / "pct <vmid>" lines.
guests_using_hook() {
  for conf in "$destdir"/etc/pve/nodes/*/qemu-server/*.conf "$destdir"/etc/pve/nodes/*/lxc/*.conf; do
    [ -f "$conf" ] || continue
    grep -q '^hookscript: [^:]*:snippets/pvemigrate-dns\.[cm]js[[:space:]]*$' "$conf" || continue
    id=${conf##*/}
    case $conf in */lxc/*) tool=pct ;; *) tool=qm ;; esac
    printf '%s %s\n' "$tool" "${id%.conf}"
  done | sort -u -k2n
}

if [ "$mode" = uninstall ]; then
  if live_systemd; then systemctl disable --now "$timer" "$hook_socket" "$hook_service" 2>/dev/null || true; fi
  rm -f "$destdir$unit_dir/timers.target.wants/$timer" "$destdir$unit_dir/sockets.target.wants/$hook_socket"
  for f in "$bin" "$cli_name" "$cli" "$cli_full" "$unit_dir/$service" "$unit_dir/$timer" "$unit_dir/$hook_socket" "$unit_dir/$hook_service" \
    "$cron_file" "$logrotate_file"; do
    if [ -e "$destdir$f" ] || [ -L "$destdir$f" ]; then
      rm -f "$destdir$f"
      say "removed $f"
    fi
  done
  rmdir "$destdir$(dirname "$cli")" 2>/dev/null || true
  # The hookscript's code cache: only ever a cache (hooks/code-cache.ts).
  rm -rf "$destdir/var/cache/pvemigrate-dns"
  if live_systemd; then systemctl daemon-reload; fi
  # Never delete the hookscript: a guest that still names it could not start,
  # migrate to this node or be recovered here by HA (check_hookscript dies in
  # pre-start on a missing or non-executable file). A no-op takes its place.
  hook=$snippets_dir/$hook_name
  for f in "$snippets_dir/$hook_file" "$hook"; do
    [ -e "$destdir$f" ] || [ -L "$destdir$f" ] || continue
    tmp=$(temp_for "$destdir$f")
    printf '#!/bin/sh\n%s\nexit 0\n' "$noop_marker" >"$tmp"
    chmod 755 "$tmp"
    # -T: a link is replaced (by the file), never followed.
    mv -fT "$tmp" "$destdir$f"
    say "replaced $f by a no-op (#!/bin/sh, exit 0), not removed: Proxmox refuses to start a guest"
    say "  whose hookscript file is missing, so guests that still name it keep starting and migrating."
  done
  users=$(guests_using_hook)
  if [ -n "$users" ]; then
    say "Guests that still name it as their hookscript: detach them (once, from any node, as root):"
    printf '%s\n' "$users" | while read -r tool id; do say "  $tool set $id --delete hookscript"; done
  else
    say "Detach it from every guest that still names it (once, from any node, as root):"
    say "  qm set <vmid> --delete hookscript      pct set <vmid> --delete hookscript"
  fi
  say "Then the no-ops can go, on every node: rm $hook $snippets_dir/$hook_file"
  exit 0
fi

for f in pvemigrate-dns.cjs pvemigrate-dns-full.mjs hookscript.cjs; do
  if [ ! -f "$dist/$f" ]; then
    echo "install.sh: $dist/$f is missing: build the bundles first (npm ci, or npm run build), or set DIST" >&2
    exit 1
  fi
done
for f in pvemigrate-dns.cjs hookscript.cjs; do
  IFS= read -r first <"$dist/$f" || true
  case $first in
    '#!'*) ;;
    *) die "$dist/$f does not start with a #! line: rebuild the bundles" ;;
  esac
done
find_node

# The full CLI first: the launcher's check (--version) imports it. A first
# install that fails that check leaves nothing behind.
had_full=no
[ -e "$destdir$cli_full" ] && had_full=yes
put "$dist/pvemigrate-dns-full.mjs" "$cli_full" 644
if ! (put "$dist/pvemigrate-dns.cjs" "$cli" 755 "$node" starts_as_cli); then
  [ "$had_full" = yes ] || rm -f "$destdir$cli_full"
  exit 1
fi
# Renamed over the file (the ES module launcher) or link an earlier version left.
tmp=$(temp_for "$destdir$cli_name")
rm -f "$tmp" # a leftover of an interrupted run with the same pid
ln -s "${cli##*/}" "$tmp"
mv -fT "$tmp" "$destdir$cli_name"
say "installed $cli_name -> ${cli##*/}"
# A new link renamed over the old file or link: $bin never goes missing.
mkdir -p "$destdir$(dirname "$bin")"
tmp=$(temp_for "$destdir$bin")
rm -f "$tmp" # a leftover of an interrupted run with the same pid
ln -s "$cli_link" "$tmp"
mv -f "$tmp" "$destdir$bin"
say "installed $bin -> $cli"
put "$dist/hookscript.cjs" "$snippets_dir/$hook_file" 755 "$node" starts_as_hook
# Then the name guests use, renamed over the copy (or link) an earlier version left.
tmp=$(temp_for "$destdir$snippets_dir/$hook_name")
rm -f "$tmp" # a leftover of an interrupted run with the same pid
ln -s "$hook_file" "$tmp"
mv -fT "$tmp" "$destdir$snippets_dir/$hook_name"
say "installed $snippets_dir/$hook_name -> $hook_file"
# Its V8 code cache (hooks/code-cache.ts: ~3 ms less per phase), made by one
# warm-up run; best effort, a hook without one compiles its body as before.
# Not under DESTDIR: it is made for the node that runs the hook.
if [ -z "$destdir" ]; then
  if out=$(env -i PATH=$pve_path LC_ALL=C "$snippets_dir/$hook_file" --warm-code-cache </dev/null 2>&1); then
    say "${out#pvemigrate-dns: }"
  else
    echo "pvemigrate-dns: warning: no code cache for the hookscript (it works, a few ms slower): $out" >&2
  fi
fi
# The hook's background worker appends to <stateDir>/worker.log.
put "$here/logrotate/pvemigrate-dns" "$logrotate_file" 644
# The hook service, with the timer or cron alike: without it the hook starts a detached worker.
put "$here/systemd/$hook_socket" "$unit_dir/$hook_socket" 644
put "$here/systemd/$hook_service" "$unit_dir/$hook_service" 644
if [ "$enable" = yes ]; then
  if live_systemd; then
    systemctl daemon-reload
    systemctl enable --now "$hook_socket"
    say "enabled and started $hook_socket"
  else
    # What `systemctl enable` does for WantedBy=sockets.target.
    mkdir -p "$destdir$unit_dir/sockets.target.wants"
    ln -sf "$unit_dir/$hook_socket" "$destdir$unit_dir/sockets.target.wants/$hook_socket"
    say "enabled $hook_socket (symlink only; not started: no running systemd here)"
  fi
fi

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
