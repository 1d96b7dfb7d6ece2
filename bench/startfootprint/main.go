//go:build linux

// Command startfootprint measures `azbind start` on the Go custom-handler example
// (examples/customhandler-go) against Azurite: the azbind binary's size, the time from exec to
// GET /admin/host/ping answering 200 (and, measured alone in the same run, the handler's own
// start: exec to its first HTTP answer), and the idle resident set size (VmRSS) of the azbind
// process (the handler process is not counted). Starts are repeated; medians are printed.
//
//	go run ./bench/startfootprint [-starts 5] [-idle 20s]
package main

import (
	"bufio"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/azbind/azbind/internal/emulator"
)

var (
	starts = flag.Int("starts", 5, "starts of azbind (and of the handler alone), interleaved")
	idle   = flag.Duration("idle", 20*time.Second, "idle time before the RSS samples (last start only)")
)

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench/startfootprint:", err)
		os.Exit(1)
	}
}

func run() error {
	dir, err := os.MkdirTemp("", "bench-startfootprint-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	app := filepath.Join(dir, "app")
	azbind := filepath.Join(dir, "azbind")
	if out, err := exec.Command("go", "build", "-o", azbind, "./cmd/azbind").CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/azbind (run from the repository root): %v\n%s", err, out)
	}
	if out, err := exec.Command("cp", "-r", "examples/customhandler-go", app).CombinedOutput(); err != nil {
		return fmt.Errorf("copy the example: %v\n%s", err, out)
	}
	if out, err := exec.Command("go", "build", "-o", filepath.Join(app, "handler"), "./examples/customhandler-go").CombinedOutput(); err != nil {
		return fmt.Errorf("go build the handler: %v\n%s", err, out)
	}
	az, err := emulator.LaunchAzurite(nil)
	if err != nil {
		return err
	}
	defer az.Stop()
	env := append(os.Environ(), "AzureWebJobsStorage="+az.ConnectionString)

	var tStart, tHandler []time.Duration
	var last *exec.Cmd
	for i := range *starts {
		// The handler alone: exec to its first answer on GET /.
		port := freePort()
		h := exec.Command(filepath.Join(app, "handler"))
		h.Env = append(os.Environ(), "FUNCTIONS_CUSTOMHANDLER_PORT="+strconv.Itoa(port))
		t0 := time.Now()
		if err := h.Start(); err != nil {
			return err
		}
		if err := await("http://127.0.0.1:"+strconv.Itoa(port)+"/", false); err != nil {
			return err
		}
		tHandler = append(tHandler, time.Since(t0))
		h.Process.Kill()
		h.Wait()

		// azbind start: exec to ping 200.
		port = freePort()
		cmd := exec.Command(azbind, "start", app, "--port", strconv.Itoa(port))
		cmd.Env = env
		t0 = time.Now()
		if err := cmd.Start(); err != nil {
			return err
		}
		if err := await("http://127.0.0.1:"+strconv.Itoa(port)+"/admin/host/ping", true); err != nil {
			return err
		}
		tStart = append(tStart, time.Since(t0))
		if i < *starts-1 {
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()
		} else {
			last = cmd
		}
	}
	time.Sleep(*idle)
	var samples []float64
	for range 5 {
		mb, err := vmRSS(last.Process.Pid)
		if err != nil {
			return err
		}
		samples = append(samples, mb)
		time.Sleep(time.Second)
	}
	last.Process.Signal(syscall.SIGTERM)
	if err := last.Wait(); err != nil {
		return fmt.Errorf("azbind start after SIGTERM: %v", err)
	}
	st, err := os.Stat(azbind)
	if err != nil {
		return err
	}
	ms, mh := median(tStart), median(tHandler)
	fmt.Printf("azbind start on examples/customhandler-go (Azurite; %d starts, medians):\n", *starts)
	fmt.Printf("  binary size (azbind)                  %6.1f MB\n", float64(st.Size())/1e6)
	fmt.Printf("  exec -> /admin/host/ping 200          %6.0f ms\n", float64(ms.Microseconds())/1000)
	fmt.Printf("  handler alone: exec -> first answer   %6.0f ms\n", float64(mh.Microseconds())/1000)
	fmt.Printf("  azbind's own share (difference)       %6.0f ms   (goal <= 100 ms)\n", float64((ms-mh).Microseconds())/1000)
	sort.Float64s(samples)
	fmt.Printf("  idle RSS of azbind after %v          %6.1f MB   (goal <= 30 MB; handler process not counted)\n", *idle, samples[len(samples)/2])
	return nil
}

func await(url string, want200 bool) error {
	c := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := c.Get(url)
		if err == nil {
			resp.Body.Close()
			if !want200 || resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(time.Millisecond)
	}
	return fmt.Errorf("%s did not answer within 60 s", url)
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// vmRSS reads /proc/<pid>/status VmRSS in MB.
func vmRSS(pid int) (float64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024, err
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}
