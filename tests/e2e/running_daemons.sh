#!/usr/bin/env bash
# Prints "PID: ARGV" for each `sigdrain daemon` running on this host (not `--unpin`, which only removes pins).
# The e2e tiers refuse to start beside one: it would guard or hold their containers before their own daemons do.
for proc in /proc/[0-9]*; do
  mapfile -d '' argv <"$proc/cmdline" 2>/dev/null || continue
  ((${#argv[@]} >= 2)) && [[ ${argv[0]##*/} == sigdrain && ${argv[1]} == daemon && " ${argv[*]} " != *" --unpin "* ]] &&
    echo "${proc#/proc/}: ${argv[*]}"
done
exit 0
