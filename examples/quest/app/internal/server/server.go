// Package server holds the quest service's HTTP routes.
package server

import (
	"bytes"
	"fmt"
	"image/png"
	"net/http"
	"strings"

	"example.com/quest-lib/filter"
	"example.com/quest/internal/picture"
)

// Routes is the service's handler: / (the greeting), /filters, /filter/NAME.
func Routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintln(w, Greeting)
	})
	mux.HandleFunc("/filters", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, strings.Join(filter.Names(), "\n"))
	})
	mux.HandleFunc("/filter/", func(w http.ResponseWriter, r *http.Request) {
		f, err := filter.Lookup(strings.TrimPrefix(r.URL.Path, "/filter/"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, f(picture.Gradient(64, 64))); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write(buf.Bytes())
	})
	return mux
}
