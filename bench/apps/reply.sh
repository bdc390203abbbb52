#!/bin/sh
# One HTTP request on stdin/stdout (busybox nc -e): read its head, answer 200 "ok", close.
cr=$(printf '\r')
while IFS= read -r line; do
  if [ -z "$line" ] || [ "$line" = "$cr" ]; then break; fi
done
printf 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok'
