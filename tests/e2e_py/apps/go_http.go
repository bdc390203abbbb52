// Scenario go: a Go net/http server with no signal handling of its own, as most Go services are written.
// Go's runtime catches SIGTERM and exits the process at once (status 2), so in-flight requests are cut.
// Built at test time (CGO_ENABLED=0, static) and run as the container's PID 1. Port: first argument, else $PORT.
//
//	/            answers 200 "ok" at once
//	/slow?ms=N   sleeps N ms (0..60000), then answers 200 "ok"
//	/spin?ms=N   burns N ms of CPU (0..60000), then answers 200 "ok": a CPU-bound handler, which Go's runtime
//	             preempts with SIGURG (bench/guard_cost.py)
package main

import (
	"net/http"
	"os"
	"strconv"
	"time"
)

func main() {
	port := os.Getenv("PORT")
	if len(os.Args) > 1 {
		port = os.Args[1]
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/slow":
			time.Sleep(millis(r))
		case "/spin":
			for end := time.Now().Add(millis(r)); time.Now().Before(end); {
			}
		}
		w.Write([]byte("ok"))
	})
	if err := http.ListenAndServe(":"+port, nil); err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(1)
	}
}

// millis is the request's ?ms=N as a duration, clamped to 0..60 s.
func millis(r *http.Request) time.Duration {
	ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
	if ms < 0 {
		ms = 0
	} else if ms > 60000 {
		ms = 60000
	}
	return time.Duration(ms) * time.Millisecond
}
