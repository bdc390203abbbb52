#!/bin/sh
# bench/guard_cost.py's app (c): a shell as the container's PID 1 that forks a child per request, so every request
# ends in a SIGCHLD to PID 1 (an always-attached tracer stopped init for each). One busybox nc per connection,
# answered by reply.sh; between two requests the port is closed for the fork of the next nc (the client retries).
port=$1
# Without busybox (the busybox-static package) the loop would spin and never answer: say so and end.
command -v busybox >/dev/null || { echo "fork_per_request.sh: busybox not found (install busybox-static)" >&2; exit 127; }
while :; do
  busybox nc -l -p "$port" -e /bench/reply.sh
done
