package emulator

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

func launchAzurite(opts *AzuriteOptions) (*Azurite, error) {
	node, script, err := azuriteScript()
	if err != nil {
		return nil, err
	}
	dir, owned := opts.Dir, false
	if dir == "" {
		if dir, err = newDataDir("azbind-azurite-"); err != nil {
			return nil, err
		}
		owned = true
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("%w: AzuriteOptions.Dir %q: %w", ErrStart, dir, err)
	}
	removeDir := func() error {
		if owned {
			return os.RemoveAll(dir)
		}
		return nil
	}

	a := &Azurite{AccountName: DevAccountName, AccountKey: DevAccountKey, Dir: dir, LogFile: filepath.Join(dir, "azurite.log")}
	scheme := "http"
	var tlsArgs []string
	if opts.OAuth {
		certPEM, keyPEM, pool, err := newSelfSignedCA()
		if err != nil {
			_ = removeDir()
			return nil, fmt.Errorf("%w: azurite certificate: %w", ErrStart, err)
		}
		certFile, keyFile := filepath.Join(dir, "azurite-cert.pem"), filepath.Join(dir, "azurite-key.pem")
		if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
			_ = removeDir()
			return nil, fmt.Errorf("%w: %w", ErrStart, err)
		}
		if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
			_ = removeDir()
			return nil, fmt.Errorf("%w: %w", ErrStart, err)
		}
		scheme = "https"
		tlsArgs = []string{"--oauth", "basic", "--cert", certFile, "--key", keyFile}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		tr.IdleConnTimeout = 4 * time.Second // below Azurite's 5 s keep-alive
		a.CertPool, a.CertPEM, a.HTTPClient = pool, certPEM, &http.Client{Transport: tr}
	}

	var p *proc
	for attempt := 1; ; attempt++ {
		ports, err := freePorts(3)
		if opts.Ports != [3]int{} {
			ports, err = opts.Ports[:], nil
		}
		if err != nil {
			_ = removeDir()
			return nil, err
		}
		args := []string{script,
			"--silent", "--disableTelemetry", "--skipApiVersionCheck",
			"--location", dir,
			"--blobHost", "127.0.0.1", "--queueHost", "127.0.0.1", "--tableHost", "127.0.0.1",
			"--blobPort", strconv.Itoa(ports[0]), "--queuePort", strconv.Itoa(ports[1]), "--tablePort", strconv.Itoa(ports[2]),
		}
		args = append(args, tlsArgs...)
		p, err = startProc("azurite", node, args, dir, a.LogFile)
		if err == nil {
			var markers []string
			for i, svc := range []string{"Blob", "Queue", "Table"} {
				markers = append(markers, fmt.Sprintf("Azurite %s service is successfully listening at %s://127.0.0.1:%d", svc, scheme, ports[i]))
			}
			err = p.waitReady(ports, markers)
			if err != nil {
				_ = p.stop()
			}
		}
		if err == nil {
			a.BlobPort, a.QueuePort, a.TablePort = ports[0], ports[1], ports[2]
			break
		}
		if errors.Is(err, errPortInUse) && attempt < startTries && opts.Ports == [3]int{} {
			continue
		}
		_ = removeDir()
		return nil, err
	}

	a.PID = p.pid()
	a.BlobEndpoint = fmt.Sprintf("%s://127.0.0.1:%d/%s", scheme, a.BlobPort, DevAccountName)
	a.QueueEndpoint = fmt.Sprintf("%s://127.0.0.1:%d/%s", scheme, a.QueuePort, DevAccountName)
	a.TableEndpoint = fmt.Sprintf("%s://127.0.0.1:%d/%s", scheme, a.TablePort, DevAccountName)
	a.ConnectionString = fmt.Sprintf("DefaultEndpointsProtocol=%s;AccountName=%s;AccountKey=%s;BlobEndpoint=%s;QueueEndpoint=%s;TableEndpoint=%s;",
		scheme, DevAccountName, DevAccountKey, a.BlobEndpoint, a.QueueEndpoint, a.TableEndpoint)

	var once sync.Once
	var stopErr error
	a.stop = func() error {
		once.Do(func() {
			stopErr = p.stop()
			if a.HTTPClient != nil {
				a.HTTPClient.CloseIdleConnections()
			}
			if err := removeDir(); err != nil && stopErr == nil {
				stopErr = fmt.Errorf("removing azurite data folder: %w", err)
			}
		})
		return stopErr
	}
	return a, nil
}
