package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sync"
	"time"
)

// profileFor is how long a profiled phase runs.
const profileFor = 20 * time.Second

// captureProfiles starts CPU profiles of duban's api and worker and of this
// process (the Temporal server) for profileFor; the returned function waits
// for them and writes them to dir.
func (s *stack) captureProfiles(dir string) func() error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return func() error { return err }
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(s.debug)+1)
	for name, addr := range s.debug {
		wg.Add(1)
		go func() {
			defer wg.Done()
			url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, int(profileFor.Seconds()))
			res, err := http.Get(url)
			if err != nil {
				errs <- err
				return
			}
			defer res.Body.Close()
			f, err := os.Create(filepath.Join(dir, s.name+"-"+name+".pprof"))
			if err != nil {
				errs <- err
				return
			}
			defer f.Close()
			if _, err := io.Copy(f, res.Body); err != nil {
				errs <- err
			}
		}()
	}
	f, err := os.Create(filepath.Join(dir, s.name+"-harness.pprof"))
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		errs <- err
	}
	return func() error {
		wg.Wait()
		if f != nil {
			pprof.StopCPUProfile()
			f.Close()
		}
		close(errs)
		return <-errs
	}
}
