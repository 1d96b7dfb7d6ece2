package emulator

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
)

func launchCosmos() (*Cosmos, error) {
	node, script, err := cosmosScript()
	if err != nil {
		return nil, err
	}
	// cosmosdb-server keeps its data in memory; the folder only holds its log.
	dir, err := newDataDir("azbind-cosmos-")
	if err != nil {
		return nil, err
	}
	logFile := filepath.Join(dir, "cosmosdb-server.log")
	var p *proc
	var port int
	for attempt := 1; ; attempt++ {
		ports, err := freePorts(1)
		if err != nil {
			_ = os.RemoveAll(dir)
			return nil, err
		}
		port = ports[0]
		p, err = startProc("cosmosdb-server", node, []string{script, "-p", strconv.Itoa(port), "--host", "127.0.0.1", "--no-ssl"}, dir, logFile)
		if err == nil {
			err = p.waitReady(ports, []string{fmt.Sprintf("Ready to accept HTTP connections at 127.0.0.1:%d", port)})
			if err != nil {
				_ = p.stop()
			}
		}
		if err == nil {
			break
		}
		if errors.Is(err, errPortInUse) && attempt < startTries {
			continue
		}
		_ = os.RemoveAll(dir)
		return nil, err
	}
	c := &Cosmos{
		Endpoint: fmt.Sprintf("http://127.0.0.1:%d/", port),
		Key:      CosmosEmulatorKey,
		PID:      p.pid(),
		Port:     port,
	}
	c.ConnectionString = fmt.Sprintf("AccountEndpoint=%s;AccountKey=%s;", c.Endpoint, c.Key)
	var once sync.Once
	var stopErr error
	c.stop = func() error {
		once.Do(func() {
			stopErr = p.stop()
			if err := os.RemoveAll(dir); err != nil && stopErr == nil {
				stopErr = fmt.Errorf("removing cosmosdb-server folder: %w", err)
			}
		})
		return stopErr
	}
	return c, nil
}
