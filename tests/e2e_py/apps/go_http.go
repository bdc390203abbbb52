// Scenario go: a Go net/http server with no signal handling of its own, as most Go services are written.
// Go's runtime catches SIGTERM and exits the process at once (status 2), so in-flight requests are cut.
// Built at test time (CGO_ENABLED=0, static) and run as the container's PID 1. Port: first argument, else $PORT.
//
//	/            answers 200 "ok" at once
//	/slow?ms=N   sleeps N ms (0..60000), then answers 200 "ok"
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
		if r.URL.Path == "/slow" {
			ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
			if ms < 0 {
				ms = 0
			} else if ms > 60000 {
				ms = 60000
			}
			time.Sleep(time.Duration(ms) * time.Millisecond)
		}
		w.Write([]byte("ok"))
	})
	if err := http.ListenAndServe(":"+port, nil); err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(1)
	}
}
