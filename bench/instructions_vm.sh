#!/bin/sh
# Runs inside the one-CPU instruction-counting VM that bench/instructions.py boots (busybox sh, no Python): nginx
# (1 worker, a 512-byte file) under wrk on loopback, keep-alive and a new connection per request, and
# bench_node_loops' getppid and spawn loops, each with sigdrain off, as the daemon loads it, as trace loads it, and
# with empty programs on the daemon's three socket tracepoints (floor: what running any program there costs; rawfloor:
# the same as raw tracepoint programs).
#   instructions_vm.sh SIGDRAIN NODE_LOOPS FLOOR_PROGRAMS ROUNDS WRK_SECONDS SYSCALLS SPAWNS VARIANT...
# ("off" is always measured, first in round 1.)
# One line per measurement on stdout:
#   sample ROUND VARIANT nginx_keepalive|nginx_new_connection CPU_NS REQUESTS LOADER_NS
#   sample ROUND VARIANT syscall|spawn NS_PER_CALL CALLS LOADER_NS
# CPU_NS is the nginx worker's CPU time (/proc schedstat) over the wrk run, NS_PER_CALL the loop's own and its
# children's per call (bench_node_loops), LOADER_NS the sigdrain process's CPU time over the same run (0 when off).
# Under -icount shift=0 a nanosecond of guest CPU time is one instruction. Variants rotate their order each round.
# Exits non-zero on the first failure.
set -eu
sigdrain=$1 node_loops=$2 floor_programs=$3 rounds=$4 seconds=$5 syscalls=$6 spawns=$7
shift 7
variants="off $*"
for v in $variants; do
  case $v in off | daemon | trace | floor | rawfloor) ;; *) echo "instructions_vm: unknown variant $v" >&2 && exit 2 ;; esac
done
port=18431 metrics_port=18432
scratch=/tmp/bench
fail() {
  echo "instructions_vm: $*" >&2
  exit 1
}

mkdir -p "$scratch/www" "$scratch/tmp" /var/log/nginx /var/lib/nginx
# nginx started as root looks up its worker user (root here: the VM has no www-data) in /etc/passwd.
echo 'root:x:0:0:root:/root:/bin/sh' >/etc/passwd
echo 'root:x:0:' >/etc/group
head -c 512 /dev/zero | tr '\0' x >"$scratch/www/index.html"
{
  echo 'user root;'
  sed -e "s|@DIR@|$scratch|g" -e "s|@PORT@|$port|g" "$(dirname "$0")/nginx.conf.in"
} >"$scratch/nginx.conf"
nginx -c "$scratch/nginx.conf" -p "$scratch" || fail "nginx did not start: $(cat "$scratch/error.log" 2>/dev/null)"
sleep 1
master=$(cat "$scratch/nginx.pid")
worker=""
for stat in /proc/[0-9]*/stat; do
  # Field 4 is the parent; nginx's comm has no spaces.
  # shellcheck disable=SC2046 # split into fields on purpose
  set -- $(cat "$stat" 2>/dev/null || true)
  [ "${4:-}" = "$master" ] && worker=$1
done
[ -n "$worker" ] || fail "no nginx worker under master $master"

cpu_ns() { cut -d' ' -f1 "/proc/$1/schedstat"; }

# The loader's CPU time, all its threads (0 when off).
loader_ns() {
  [ -n "$loader" ] || {
    echo 0
    return
  }
  cat /proc/"$loader"/task/*/schedstat | awk '{ s += $1 } END { printf "%d\n", s }'
}

# The BPF programs a process holds (each fd whose fdinfo names a program).
bpf_progs() { grep -l '^prog_id:' /proc/"$1"/fdinfo/* 2>/dev/null | wc -l; }

loader=""
start_loader() {
  case $1 in
    off) return 0 ;;
    daemon)
      state=$(mktemp -d)
      "$sigdrain" daemon --state-dir "$state" --labelled-only --bpf-pin-dir none \
        --metrics-address "127.0.0.1:$metrics_port" >"$scratch/loader.log" 2>&1 &
      ;;
    trace) "$sigdrain" trace --json --signal SIGUSR2 >/dev/null 2>"$scratch/loader.log" & ;;
    floor | rawfloor)
      # Attached until its stdin closes: a fifo whose one writer is this shell's fd 3.
      rm -f "$scratch/floor.in" && mkfifo "$scratch/floor.in"
      raw=""
      [ "$1" = rawfloor ] && raw=raw:
      "$floor_programs" ${raw}sock/sock_recv_length ${raw}sock/sock_send_length ${raw}sock/inet_sock_set_state \
        <"$scratch/floor.in" >"$scratch/loader.log" 2>&1 &
      exec 3>"$scratch/floor.in"
      ;;
  esac
  loader=$!
  i=0
  while :; do
    kill -0 "$loader" 2>/dev/null || fail "$1 exited: $(tail -c 300 "$scratch/loader.log")"
    case $1 in
      daemon) wget -q -O /dev/null "http://127.0.0.1:$metrics_port/readyz" 2>/dev/null && break ;;
      trace) [ "$(bpf_progs "$loader")" -ge 8 ] && break ;;
      floor | rawfloor) grep -q '^ready$' "$scratch/loader.log" && break ;;
    esac
    i=$((i + 1))
    [ $i -lt 600 ] || fail "$1 did not load its probes within 60 s"
    sleep 0.1
  done
}
stop_loader() {
  [ -n "$loader" ] || return 0
  if [ -e "$scratch/floor.in" ]; then
    exec 3>&-
    rm -f "$scratch/floor.in"
  else
    kill "$loader"
  fi
  wait "$loader" || true
  loader=""
}

nginx_sample() { # ROUND VARIANT MODE
  before=$(cpu_ns "$worker") loader_before=$(loader_ns)
  case $3 in
    nginx_keepalive) out=$(wrk -t1 -c32 -d"${seconds}s" "http://127.0.0.1:$port/") ;;
    nginx_new_connection) out=$(wrk -t1 -c16 -H 'Connection: close' -d"${seconds}s" "http://127.0.0.1:$port/") ;;
  esac || fail "wrk failed: $out"
  after=$(cpu_ns "$worker") loader_after=$(loader_ns)
  case $out in *Non-2xx*) fail "nginx answered errors: $out" ;; esac
  requests=$(echo "$out" | sed -n 's/^ *\([0-9][0-9]*\) requests in.*/\1/p')
  [ -n "$requests" ] || fail "cannot read wrk's output: $out"
  [ "$requests" -gt 0 ] || fail "cannot read wrk's output: $out"
  echo "sample $1 $2 $3 $((after - before)) $requests $((loader_after - loader_before))"
}

loop_sample() { # ROUND VARIANT KIND N
  loader_before=$(loader_ns)
  per_call=$("$node_loops" "$3" "$4") || fail "bench_node_loops $3 failed"
  echo "sample $1 $2 $3 $per_call $4 $(($(loader_ns) - loader_before))"
}

r=1
while [ "$r" -le "$rounds" ]; do
  for v in $variants; do
    start_loader "$v"
    nginx_sample "$r" "$v" nginx_keepalive
    nginx_sample "$r" "$v" nginx_new_connection
    case $v in
      floor | rawfloor) ;; # programs on socket events only: the loops would measure nothing of them
      *)
        loop_sample "$r" "$v" syscall "$syscalls"
        loop_sample "$r" "$v" spawn "$spawns"
        ;;
    esac
    stop_loader
  done
  # Rotate: each variant takes each place in turn.
  # shellcheck disable=SC2086 # split into words on purpose
  set -- $variants
  first=$1
  shift
  variants="$* $first"
  r=$((r + 1))
done
nginx -c "$scratch/nginx.conf" -p "$scratch" -s stop
