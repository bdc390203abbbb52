// The init process of one synthetic fleet container: a small single-threaded HTTP/1.1 server on 127.0.0.1.
//
//   GET /              200 "ok\n" at once
//   GET /slow?ms=N     200 "ok\n" after N ms (N <= 60000)
// Keep-alive unless the request says "Connection: close".
//
// SIGTERM (a real handler, so that a ptrace-based hold sees it being delivered) makes it shut down the way many
// servers do: close the listener at once (new connections are refused), close idle connections, answer the
// requests in flight with "Connection: close", then exit 0. Without a hold, requests that a load balancer still
// sends after the stop began are refused.
#pragma once

#include <cstdint>

namespace sigdrain::fleet {

// Listens on 127.0.0.1 with a kernel-chosen port, writes that port (uint16_t) to `port_pipe`, closes it, then
// serves until SIGTERM; returns the exit code (0 after a graceful shutdown, 1 when it could not listen).
int serve(int port_pipe);

}  // namespace sigdrain::fleet
