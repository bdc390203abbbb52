#!/bin/sh
# bench/guard_cost.py's app (c): a shell as the container's PID 1 that forks a child per request, so every request
# ends in a SIGCHLD to PID 1 (an always-attached tracer stopped init for each). One busybox nc per connection,
# answered by reply.sh; between two requests the port is closed for the fork of the next nc (the client retries).
port=$1
while :; do
  busybox nc -l -p "$port" -e /bench/reply.sh
done
