// The quest service: a small image-filter HTTP service in the spirit of Tilt's pixeltilt, the
// app bench/quest.ts edits and redeploys. GET / answers one line of text (the line the bench
// edits); GET /filter/NAME answers a generated picture run through a filter, as a PNG.
package main

import (
	"log"
	"net/http"
	"os"

	"example.com/quest/internal/server"
)

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	addr := os.Getenv("LISTEN")
	if addr == "" {
		addr = ":" + port
	}
	log.Printf("quest listening on %s", addr)
	log.Fatal(http.ListenAndServe(addr, server.Routes()))
}
