// A Go module whose package db has a cgo file and a `//go:build !cgo` fallback (go-sqlite3's
// shape), plus a windows-only cgo file and a `//go:build ignore` generator importing "C" that no
// linux build reads (golang.org/x/sys holds many). Local only (GOPROXY=off).

export const CGO_FALLBACK_MODULE: Record<string, string> = {
  "go.mod": "module example.com/probe\n\ngo 1.19\n",
  "main.go":
    'package main\n\nimport (\n\t"fmt"\n\n\t"example.com/probe/db"\n)\n\nfunc main() { fmt.Println(db.Driver()) }\n',
  "db/db_cgo.go":
    'package db\n\n// int answer(void) { return 42; }\nimport "C"\n\nfunc Driver() string { return "real" }\n',
  "db/db_nocgo.go": '//go:build !cgo\n\npackage db\n\nfunc Driver() string { return "stub" }\n',
  "db/db_windows.go": '//go:build windows\n\npackage db\n\nimport "C"\n',
  "db/gen.go": '//go:build ignore\n\npackage main\n\nimport "C"\n\nfunc main() {}\n',
};
