// Command http benchmarks the HTTP trigger against a plain net/http handler doing the same work.
//
//	go run ./bench/http [-c 32] [-d 2s] [-legs 8] [-level function|anonymous]
//
// Both sides serve on loopback, with the same server timeouts and header limit (the host's
// defaults), and do the same work per request: bound the body, decode a JSON
// body {"name": …}, encode {"hello": name} as the JSON reply — and, with -level function, check
// the caller's key in constant time (the plain handler compares the x-functions-key header; the
// host's router checks Functions keys). The azbind side is a real host (extension.NewHost + an
// httpTrigger function with an `http` $return output, served by the host's own server). After a
// warm-up, the measured legs alternate in ABBA order (plain, trigger, trigger, plain, …) with c
// keep-alive clients each, so that a busy machine affects both alike. It prints requests/second,
// p50/p99 latency and the process CPU time per request (server and clients; the load-independent
// view) per side, `cpu ratio` (plain/trigger CPU per request) and `ratio: <trigger/plain>` (req/s).
package main

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/azbind/azbind/azhttp"
	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
)

var (
	conc  = flag.Int("c", 32, "concurrent keep-alive clients")
	dur   = flag.Duration("d", 2*time.Second, "duration of one measured leg")
	legs  = flag.Int("legs", 8, "measured legs (ABBA order), split evenly between plain and trigger")
	level = flag.String("level", "function", "authLevel of the function: function (key checks on both sides) or anonymous")
	prof  = flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
)

const benchKey = "bench-key-0123456789abcdefghijklmnopqrstuvwxyz"

type in struct{ Name string }
type out struct {
	Hello string `json:"hello"`
}

func main() {
	flag.Parse()
	if *prof != "" {
		f, err := os.Create(*prof)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench/http:", err)
			os.Exit(1)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench/http:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run() error {
	keyed := *level == "function"
	lvl, err := driver.ParseAuthLevel(*level)
	if err != nil {
		return err
	}
	// (a) plain net/http.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	plain := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/hello" {
			http.NotFound(w, r)
			return
		}
		if keyed && subtle.ConstantTimeCompare([]byte(r.Header.Get("x-functions-key")), []byte(benchKey)) != 1 {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 100<<20))
		if err != nil {
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			return
		}
		var v in
		if err := json.Unmarshal(body, &v); err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		b, _ := json.Marshal(out{Hello: v.Name})
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Write(b)
	}),
		// The timeouts and header limit of the host's server (extension/server.go defaults), as a
		// production net/http server would set them.
		ReadHeaderTimeout: 30 * time.Second, ReadTimeout: 230 * time.Second, WriteTimeout: 230 * time.Second,
		IdleTimeout: 130 * time.Second, MaxHeaderBytes: 32 << 10}
	go plain.Serve(ln)
	defer plain.Close()

	// (b) the HTTP trigger through the runtime.
	// The host key is given as Functions reads it on Kubernetes (internal/hostkeys' settings).
	settings := connection.NewSettings(connection.FromMap("bench", map[string]string{"host__function__default": benchKey}))
	h, err := extension.NewHost(extension.HostOptions{Settings: settings, Logger: slog.New(slog.DiscardHandler), HostID: "bench-http", HTTPAddr: "127.0.0.1:0"})
	if err != nil {
		return err
	}
	err = h.Func("hello", extension.Func(func(_ context.Context, v in) (azhttp.Response, error) {
		return azhttp.JSON(http.StatusOK, out{Hello: v.Name}), nil
	}), azhttp.Trigger("req", &azhttp.TriggerOptions{Methods: []string{"POST"}, AuthLevel: lvl}), azhttp.Output("$return"))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	defer func() { cancel(); <-done }()

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *conc, MaxConnsPerHost: *conc}}
	plainURL := "http://" + ln.Addr().String() + "/api/hello"
	var trigURL string
	deadline := time.Now().Add(30 * time.Second)
	for {
		if a := h.Addr(); a != "" {
			trigURL = "http://" + a + "/api/hello"
			if code, _ := once(client, trigURL); code == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			code, _ := once(client, trigURL)
			return fmt.Errorf("the trigger does not answer 200 (last %d); with -level function the host's keys must admit the bench key", code)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, u := range []string{plainURL, trigURL} {
		code, body := once(client, u)
		if code != 200 || body != `{"hello":"bench"}` {
			return fmt.Errorf("%s answers %d %q", u, code, body)
		}
	}
	fmt.Printf("bench/http: %d clients, %d legs of %s, authLevel %s (key checks %s), GOMAXPROCS from the machine\n", *conc, *legs, *dur, *level, map[bool]string{true: "on", false: "off"}[keyed])
	leg(client, plainURL, *dur/2) // warm-up
	leg(client, trigURL, *dur/2)
	var res [2]stats
	for i := 0; i < *legs; i++ {
		side := []int{0, 1, 1, 0}[i%4]
		u := []string{plainURL, trigURL}[side]
		s := leg(client, u, *dur)
		fmt.Printf("  leg %d %-7s %8.0f req/s  p50 %-8s p99 %-9s cpu/req %-8s errors %d\n", i+1, []string{"plain", "trigger"}[side], s.rate(), pct(s.lat, 50), pct(s.lat, 99), s.cpuPerReq().Round(time.Microsecond), s.errors)
		res[side].add(s)
	}
	for i, name := range []string{"plain", "trigger"} {
		fmt.Printf("%-8s %8.0f req/s  p50 %-8s p99 %-9s cpu/req %-8s errors %d\n", name, res[i].rate(), pct(res[i].lat, 50), pct(res[i].lat, 99), res[i].cpuPerReq().Round(time.Microsecond), res[i].errors)
	}
	// cpu/req (server and clients of this process) is the load-independent view of the overhead.
	fmt.Printf("cpu ratio (plain/trigger): %.2f\n", float64(res[0].cpuPerReq())/float64(res[1].cpuPerReq()))
	fmt.Printf("ratio: %.2f\n", res[1].rate()/res[0].rate())
	return nil
}

func request(u string) *http.Request {
	req, _ := http.NewRequest(http.MethodPost, u, bytes.NewReader([]byte(`{"name": "bench"}`)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-functions-key", benchKey)
	return req
}

func once(c *http.Client, u string) (int, string) {
	resp, err := c.Do(request(u))
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

type stats struct {
	n, errors int64
	elapsed   time.Duration
	cpu       time.Duration // process CPU time (server and clients) during the leg
	lat       []time.Duration
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (s stats) cpuPerReq() time.Duration {
	if s.n == 0 {
		return 0
	}
	return s.cpu / time.Duration(s.n)
}

func (s *stats) add(o stats) {
	s.n += o.n
	s.errors += o.errors
	s.elapsed += o.elapsed
	s.cpu += o.cpu
	s.lat = append(s.lat, o.lat...)
}

func (s stats) rate() float64 { return float64(s.n) / s.elapsed.Seconds() }

// leg runs c clients against u for d.
func leg(c *http.Client, u string, d time.Duration) stats {
	var n, errs atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	stop := time.Now().Add(d)
	start, cpu0 := time.Now(), cpuTime()
	var wg sync.WaitGroup
	for i := 0; i < *conc; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 1024)
			for time.Now().Before(stop) {
				t0 := time.Now()
				resp, err := c.Do(request(u))
				if err != nil {
					errs.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					errs.Add(1)
					continue
				}
				local = append(local, time.Since(t0))
				n.Add(1)
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return stats{n: n.Load(), errors: errs.Load(), elapsed: time.Since(start), cpu: cpuTime() - cpu0, lat: lat}
}

func pct(d []time.Duration, p int) string {
	if len(d) == 0 {
		return "n/a"
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := min(max((len(s)*p+99)/100-1, 0), len(s)-1)
	return s[i].Round(time.Microsecond).String()
}
