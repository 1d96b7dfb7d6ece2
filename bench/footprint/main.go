//go:build linux

// Command footprint measures what a storage-only host costs in binary size and memory: it builds
// bench/footprint/host (one queue trigger with a table output, one blob trigger), starts Azurite,
// runs the host idle for -d and samples its resident set size (VmRSS, Linux) every second.
//
//	go run ./bench/footprint [-d 60s] [-godebug ...] [-gogc ...] [-memlimit ...] [-stats]
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"

	"github.com/azbind/azbind/internal/emulator"
)

var (
	dur      = flag.Duration("d", time.Minute, "how long the idle host runs")
	godebug  = flag.String("godebug", "", "GODEBUG for the host")
	gogc     = flag.String("gogc", "", "GOGC for the host")
	memlimit = flag.String("memlimit", "", "GOMEMLIMIT for the host")
	stats    = flag.Bool("stats", false, "have the host print Go runtime memory figures every 10 s")
	blobs    = flag.Int("blobs", 1000, "blobs in the watched container")
)

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench/footprint:", err)
		os.Exit(1)
	}
}

func run() error {
	dir, err := os.MkdirTemp("", "footprint")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "host")
	for _, b := range []struct {
		name  string
		flags []string
	}{{"default build", nil}, {"-ldflags=-s -w -trimpath", []string{"-trimpath", "-ldflags=-s -w"}}} {
		out := bin
		if b.flags != nil {
			out = bin + "-stripped"
		}
		args := append([]string{"build", "-o", out}, b.flags...)
		cmd := exec.Command("go", append(args, "./bench/footprint/host")...)
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			return err
		}
		fi, err := os.Stat(out)
		if err != nil {
			return err
		}
		fmt.Printf("binary (%s): %.1f MB\n", b.name, float64(fi.Size())/1e6)
	}

	az, err := emulator.LaunchAzurite(nil)
	if err != nil {
		return err
	}
	defer az.Stop()
	svc, err := service.NewClientFromConnectionString(az.ConnectionString, nil)
	if err != nil {
		return err
	}
	ctx := context.Background()
	cc := svc.NewContainerClient("footprint")
	if _, err := cc.Create(ctx, nil); err != nil {
		return err
	}
	for i := 0; i < *blobs; i++ {
		if _, err := cc.NewBlockBlobClient(fmt.Sprintf("b%05d", i)).UploadBuffer(ctx, []byte("x"), nil); err != nil {
			return err
		}
	}
	cmd := exec.Command(bin, "-stats="+strconv.FormatBool(*stats))
	cmd.Env = append(os.Environ(), "AzureWebJobsStorage="+az.ConnectionString)
	for k, v := range map[string]string{"GODEBUG": *godebug, "GOGC": *gogc, "GOMEMLIMIT": *memlimit} {
		if v != "" {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the benchmark
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	fmt.Printf("idle host RSS (env GODEBUG=%q GOGC=%q GOMEMLIMIT=%q), sampled every second:\n", *godebug, *gogc, *memlimit)
	t0 := time.Now()
	var first, peak, last float64
	for i := 0; time.Since(t0) < *dur; i++ {
		time.Sleep(time.Second)
		rss, err := vmRSS(cmd.Process.Pid)
		if err != nil {
			return err
		}
		if first == 0 {
			first = rss
		}
		peak, last = max(peak, rss), rss
		if s := int(time.Since(t0).Round(time.Second) / time.Second); s%5 == 0 || s <= 3 {
			fmt.Printf("  t=%3ds  RSS %.1f MB\n", s, rss)
		}
	}
	fmt.Printf("RSS: after 1 s %.1f MB, peak %.1f MB, at %s %.1f MB\n", first, peak, dur.String(), last)
	return nil
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
