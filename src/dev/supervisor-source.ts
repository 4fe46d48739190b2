// Generated from supervisor/main.go by scripts/embed-supervisor.mjs; do not edit.
// biome-ignore format: the template holds Go source verbatim
export const SUPERVISOR_SOURCE = String.raw`// tug's dev supervisor: PID 1 of a dev image, added as /tug/supervisor by "tug dev" only.
// It lets tug restart the app and sync files into a running container without anything in
// the image itself (the node base has neither a shell nor tar).
//
//	supervisor run -- ARGV...                     run ARGV; SIGHUP restarts it
//	supervisor extract DIR [--delete PATH]...     tar on stdin -> DIR, then remove PATHs
//	supervisor signal SIG [PID]                   send SIG (HUP, TERM, ...) to PID (default 1)
//	supervisor agent DIR [--pid PID]              serve SYNC/HUP requests on stdin (see agent)
//
// Standard library only; built with CGO_ENABLED=0 so it runs on any linux image.
// src/dev/supervisor-source.ts embeds this file: regenerate it with
// "node scripts/embed-supervisor.mjs" after an edit (a test checks they match).
package main

import (
	"archive/tar"
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	switch os.Args[1] {
	case "run":
		args := os.Args[2:]
		if len(args) > 0 && args[0] == "--" {
			args = args[1:]
		}
		if len(args) == 0 {
			usage()
		}
		os.Exit(supervise(args))
	case "extract":
		if err := extract(os.Args[2:], os.Stdin); err != nil {
			fmt.Fprintf(os.Stderr, "[tug] extract: %v\n", err)
			os.Exit(1)
		}
	case "signal":
		if err := sendSignal(os.Args[2:]); err != nil {
			fmt.Fprintf(os.Stderr, "[tug] signal: %v\n", err)
			os.Exit(1)
		}
	case "agent":
		if err := agent(os.Args[2:], os.Stdin, os.Stdout); err != nil {
			fmt.Fprintf(os.Stderr, "[tug] agent: %v\n", err)
			os.Exit(1)
		}
	default:
		usage()
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: supervisor run -- ARGV... | extract DIR [--delete PATH]... | signal SIG [PID] | agent DIR [--pid PID]")
	os.Exit(2)
}

// ---------------------------------------------------------------------------------------------
// run

// How long a child gets between SIGTERM and SIGKILL when it is restarted.
const restartGrace = 2 * time.Second

// prctl(2) option: orphaned descendants are re-parented to us, so when the supervisor is not
// PID 1 (run on a host, or a pod sharing its PID namespace) it still reaps them.
const prSetChildSubreaper = 36

type supervisor struct {
	argv       []string
	pid        int  // current child (also its process group id); 0 when none runs
	restarting bool // SIGTERM sent for a restart; start again when it has exited
	stopping   bool // SIGTERM/SIGINT forwarded; exit when the child has exited
	killTimer  *time.Timer
	lastStatus int
}

func supervise(argv []string) int {
	_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0)
	signals := make(chan os.Signal, 32)
	// Subscribed before the first fork, so no SIGCHLD is missed.
	signal.Notify(signals, syscall.SIGCHLD, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	s := &supervisor{argv: argv}
	s.start()
	if s.pid == 0 {
		// The first start failing is a configuration error, not a crash to wait out.
		return 127
	}
	killNow := make(chan int, 1)
	for {
		select {
		case pgid := <-killNow:
			if pgid == s.pid && s.restarting {
				_ = syscall.Kill(-pgid, syscall.SIGKILL)
			}
		case sig := <-signals:
			switch sig {
			case syscall.SIGCHLD:
				if code, done := s.reap(); done {
					return code
				}
			case syscall.SIGHUP:
				s.restart(killNow)
			case syscall.SIGTERM, syscall.SIGINT:
				if s.pid == 0 {
					return s.lastStatus
				}
				s.stopping = true
				s.restarting = false
				_ = syscall.Kill(-s.pid, sig.(syscall.Signal))
			}
		}
	}
}

func (s *supervisor) start() {
	file, err := exec.LookPath(s.argv[0])
	if err != nil {
		fmt.Fprintf(os.Stderr, "[tug] cannot start %s: %v\n", s.argv[0], err)
		return
	}
	p, err := os.StartProcess(file, s.argv, &os.ProcAttr{
		Env:   os.Environ(),
		Files: []*os.File{os.Stdin, os.Stdout, os.Stderr},
		// Its own process group, so a restart also stops whatever it started.
		Sys: &syscall.SysProcAttr{Setpgid: true},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "[tug] cannot start %s: %v\n", s.argv[0], err)
		return
	}
	// Waited for by reap(), never by os.Process.Wait: one wait4(-1) loop reaps everything.
	s.pid = p.Pid
}

func (s *supervisor) restart(killNow chan int) {
	if s.stopping {
		return
	}
	if s.pid == 0 {
		s.start()
		return
	}
	if s.restarting {
		return // a HUP while one restart is under way is the same restart
	}
	s.restarting = true
	pgid := s.pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	s.killTimer = time.AfterFunc(restartGrace, func() { killNow <- pgid })
}

// reap collects every exited child. It returns done=true with the exit code when the
// supervisor itself should exit.
func (s *supervisor) reap() (int, bool) {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if err == syscall.EINTR {
			continue
		}
		if pid <= 0 || err != nil {
			return 0, false
		}
		if pid != s.pid {
			continue // an orphan re-parented to us
		}
		code := exitCode(ws)
		s.lastStatus = code
		pgid := s.pid
		s.pid = 0
		if s.killTimer != nil {
			s.killTimer.Stop()
			s.killTimer = nil
		}
		// What the child started in its group goes with it, so nothing keeps the port.
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		switch {
		case s.stopping:
			return code, true
		case s.restarting:
			s.restarting = false
			s.start()
		default:
			if ws.Signaled() {
				fmt.Fprintf(os.Stderr, "[tug] process exited (signal %s)\n", signalName(ws.Signal()))
			} else {
				fmt.Fprintf(os.Stderr, "[tug] process exited (code %d)\n", code)
			}
		}
	}
}

func exitCode(ws syscall.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

var signalNames = map[string]syscall.Signal{
	"HUP": syscall.SIGHUP, "INT": syscall.SIGINT, "QUIT": syscall.SIGQUIT, "KILL": syscall.SIGKILL,
	"USR1": syscall.SIGUSR1, "USR2": syscall.SIGUSR2, "TERM": syscall.SIGTERM,
	"SEGV": syscall.SIGSEGV, "ABRT": syscall.SIGABRT, "PIPE": syscall.SIGPIPE,
}

func signalName(sig syscall.Signal) string {
	for name, s := range signalNames {
		if s == sig {
			return "SIG" + name
		}
	}
	return strconv.Itoa(int(sig))
}

// ---------------------------------------------------------------------------------------------
// signal

func sendSignal(args []string) error {
	if len(args) < 1 || len(args) > 2 {
		return errors.New("usage: signal SIG [PID]")
	}
	name := strings.TrimPrefix(strings.ToUpper(args[0]), "SIG")
	sig, ok := signalNames[name]
	if !ok {
		n, err := strconv.Atoi(args[0])
		if err != nil {
			return fmt.Errorf("unknown signal %q", args[0])
		}
		sig = syscall.Signal(n)
	}
	pid := 1
	if len(args) == 2 {
		n, err := strconv.Atoi(args[1])
		if err != nil || n <= 0 {
			return fmt.Errorf("bad pid %q", args[1])
		}
		pid = n
	}
	return syscall.Kill(pid, sig)
}

// ---------------------------------------------------------------------------------------------
// extract

func extract(args []string, in io.Reader) error {
	var dir string
	var deletes []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--delete":
			if i+1 >= len(args) {
				return errors.New("--delete needs a path")
			}
			deletes = append(deletes, args[i+1])
			i++
		case strings.HasPrefix(a, "--delete="):
			deletes = append(deletes, strings.TrimPrefix(a, "--delete="))
		case dir == "":
			dir = a
		default:
			return fmt.Errorf("unexpected argument %q", a)
		}
	}
	if dir == "" {
		return errors.New("usage: extract DIR [--delete PATH]...")
	}
	return extractTo(dir, deletes, in)
}

// extractTo writes the tar on in under dir, then removes the deletes (paths under dir).
func extractTo(dir string, deletes []string, in io.Reader) error {
	root, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return err
	}
	x := &extractor{root: root, realRoot: realRoot}
	tr := tar.NewReader(in)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("reading tar: %w", err)
		}
		if err := x.entry(hdr, tr); err != nil {
			return err
		}
	}
	for _, d := range deletes {
		target, err := x.inside(d)
		if err != nil {
			return err
		}
		if target == root {
			return fmt.Errorf("refusing to delete %s itself", dir)
		}
		if err := x.checkResolved(filepath.Dir(target)); err != nil {
			return err
		}
		if err := os.RemoveAll(target); err != nil {
			return err
		}
	}
	return nil
}

type extractor struct {
	root     string
	realRoot string
}

// Temp file names are unique within the process, across the agent's requests too.
var tempSeq int

// inside maps a tar or --delete path to a host path under root, refusing any ".." escape.
func (x *extractor) inside(name string) (string, error) {
	clean := path.Clean("/" + name)
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return "", fmt.Errorf("refusing %q: it leaves the target directory", name)
		}
	}
	return filepath.Join(x.root, filepath.FromSlash(clean)), nil
}

// checkResolved refuses p when its nearest existing ancestor (p itself included) resolves
// through a symlink to somewhere outside root: MkdirAll, Chmod and the rename would follow it.
func (x *extractor) checkResolved(p string) error {
	d := p
	for {
		real, err := filepath.EvalSymlinks(d)
		if err == nil {
			rel, err := filepath.Rel(x.realRoot, real)
			if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
				return fmt.Errorf("refusing %s: it leads outside %s through a symlink", p, x.root)
			}
			return nil
		}
		if !errors.Is(err, os.ErrNotExist) || d == x.root || d == filepath.Dir(d) {
			return err
		}
		d = filepath.Dir(d)
	}
}

func (x *extractor) temp(target string) string {
	tempSeq++
	return filepath.Join(filepath.Dir(target), fmt.Sprintf(".tug-%s-%d-%d", filepath.Base(target), os.Getpid(), tempSeq))
}

func (x *extractor) entry(hdr *tar.Header, r io.Reader) error {
	target, err := x.inside(hdr.Name)
	if err != nil {
		return err
	}
	if target == x.root {
		return nil
	}
	perm := os.FileMode(hdr.Mode) & os.ModePerm
	if hdr.Typeflag == tar.TypeDir {
		if err := x.checkResolved(target); err != nil {
			return err
		}
	} else {
		if err := x.checkResolved(filepath.Dir(target)); err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := os.MkdirAll(target, perm); err != nil {
			return err
		}
		return os.Chmod(target, perm)
	case tar.TypeReg, tar.TypeRegA:
		// Written aside and renamed over the old file: a running process (or a watcher in it)
		// sees the old content or the new, never half a file.
		tmp := x.temp(target)
		f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, r)
		if err == nil {
			err = f.Chmod(perm) // the umask trimmed the mode OpenFile was given
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(tmp, target)
		}
		if err != nil {
			_ = os.Remove(tmp)
			return fmt.Errorf("writing %s: %w", hdr.Name, err)
		}
		return nil
	case tar.TypeSymlink:
		tmp := x.temp(target)
		if err := os.Symlink(hdr.Linkname, tmp); err != nil {
			return err
		}
		if err := os.Rename(tmp, target); err != nil {
			_ = os.Remove(tmp)
			return err
		}
		return nil
	default:
		return fmt.Errorf("refusing %s: tar entry type %q is not a file, directory or symlink", hdr.Name, string(hdr.Typeflag))
	}
}

// ---------------------------------------------------------------------------------------------
// agent
//
// One long-lived "exec -i ID /tug/supervisor agent /" per container instead of one exec per
// sync (a podman exec costs ~185 ms by itself). Requests come on stdin, each answered by one
// line on stdout, until stdin ends:
//
//	(on start, unasked)                              -> READY 1
//	SYNC <tarBytes> <nDeletes>\n                     -> OK | ERR <message>
//	  then nDeletes lines, one PATH each (as extract's --delete), then exactly tarBytes bytes
//	  of tar; applied exactly as extract applies them (tar first, then the deletions)
//	HUP\n                                            -> OK | ERR <message>
//	  SIGHUP to PID (default 1: the run supervisor), i.e. restart the app
//
// A failed request is an ERR reply and the session goes on. A malformed or unknown request is
// an ERR reply and the end of the session: the length of what follows it is unknown.

const agentVersion = 1

func agent(args []string, in io.Reader, out io.Writer) error {
	dir := ""
	pid := "1"
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--pid":
			if i+1 >= len(args) {
				return errors.New("--pid needs a pid")
			}
			pid = args[i+1]
			i++
		case strings.HasPrefix(a, "--pid="):
			pid = strings.TrimPrefix(a, "--pid=")
		case dir == "":
			dir = a
		default:
			return fmt.Errorf("unexpected argument %q", a)
		}
	}
	if dir == "" {
		return errors.New("usage: agent DIR [--pid PID]")
	}
	if n, err := strconv.Atoi(pid); err != nil || n <= 0 {
		return fmt.Errorf("bad pid %q", pid)
	}
	reply := func(err error) error {
		line := "OK\n"
		if err != nil {
			line = "ERR " + strings.ReplaceAll(err.Error(), "\n", " ") + "\n"
		}
		_, werr := io.WriteString(out, line)
		return werr
	}
	if _, err := fmt.Fprintf(out, "READY %d\n", agentVersion); err != nil {
		return err
	}
	br := bufio.NewReader(in)
	for {
		line, err := br.ReadString('\n')
		if err == io.EOF && line == "" {
			return nil // the client closed the session
		}
		if err != nil {
			return fmt.Errorf("reading a request: %w", err)
		}
		fields := strings.Fields(line)
		switch {
		case len(fields) == 3 && fields[0] == "SYNC":
			size, err1 := strconv.ParseInt(fields[1], 10, 64)
			n, err2 := strconv.Atoi(fields[2])
			if err1 != nil || err2 != nil || size < 0 || n < 0 {
				err := fmt.Errorf("bad request %q", strings.TrimSpace(line))
				_ = reply(err)
				return err
			}
			deletes := make([]string, 0, n)
			for i := 0; i < n; i++ {
				p, err := br.ReadString('\n')
				if err != nil {
					return fmt.Errorf("reading a SYNC request: %w", err)
				}
				deletes = append(deletes, strings.TrimSuffix(p, "\n"))
			}
			body := &io.LimitedReader{R: br, N: size}
			xerr := extractTo(dir, deletes, body)
			// What the extractor left (after an error, or tar's trailing blocks) is this
			// request's too: the next request starts after exactly tarBytes bytes.
			if _, err := io.Copy(io.Discard, body); err != nil {
				return fmt.Errorf("reading a SYNC request: %w", err)
			}
			if body.N > 0 {
				return fmt.Errorf("reading a SYNC request: %w", io.ErrUnexpectedEOF)
			}
			if err := reply(xerr); err != nil {
				return err
			}
		case len(fields) == 1 && fields[0] == "HUP":
			if err := reply(sendSignal([]string{"HUP", pid})); err != nil {
				return err
			}
		default:
			err := fmt.Errorf("unknown request %q", strings.TrimSpace(line))
			_ = reply(err)
			return err
		}
	}
}
`;
