package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The office web: the live board's stream fan-out, the board drawn beside
// the JSON it is drawn from, and what a page weighs.

// webFigures are what the web phase measured.
type webFigures struct {
	StreamClients int `json:"stream_clients"`
	// StreamLag is, over every client and every escalation, the time from
	// the escalation's deadline to its arrival on the client's stream.
	StreamLag dist `json:"stream_lag"`
	// StreamMissed counts escalations a client never received.
	StreamMissed int `json:"stream_missed"`
	// CommandsMeanwhile are the commands that ran while the escalations fell due.
	CommandsMeanwhile int64 `json:"commands_meanwhile"`
	BoardCases        int   `json:"board_cases"`
	BoardHTML         dist  `json:"board_html"`
	BoardJSON         dist  `json:"board_json"`
	// BoardBytes and CaseBytes are a page's whole weight as sent (gzip):
	// the HTML, the stylesheet and the script; BoardHTMLBytes is the
	// board's HTML as drawn.
	BoardBytes     int `json:"board_bytes"`
	CaseBytes      int `json:"case_bytes"`
	BoardHTMLBytes int `json:"board_html_bytes"`
}

const (
	streamClients   = 200
	streamCases     = 20
	boardCases      = 1000
	boardReads      = 200
	streamDeadline  = 6 * time.Second // the "stream" category's acknowledge deadline
	pageWeightLimit = 200 << 10
)

// measureWeb measures the office web on the main policy's "stream"
// category, whose cases fall due 6 s after they are opened.
func measureWeb(ctx context.Context, r *benchRun) error {
	w := &webFigures{StreamClients: streamClients, BoardCases: boardCases}
	r.fig.Web = w
	r.logf("  web: %d stream clients, %d escalations while commands run", streamClients, streamCases)
	if err := measureStream(ctx, r, w); err != nil {
		return err
	}
	r.logf("  web: the board with %d escalated cases, HTML beside JSON", boardCases)
	return measureBoard(ctx, r, w)
}

// escalationSeen is one client's receipt of one escalation.
type escalationSeen struct {
	caseID string
	lag    time.Duration
}

// measureStream connects streamClients to /v1/stream, opens streamCases
// cases that fall due 6 s later while other cases take commands, and
// measures when each client receives each level-1 escalation.
func measureStream(ctx context.Context, r *benchRun, w *webFigures) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxConnsPerHost, t.MaxIdleConnsPerHost = 0, streamClients
	hc := &http.Client{Transport: t}
	seen := make(chan escalationSeen, streamClients*streamCases*2)
	var connected sync.WaitGroup
	errs := make(chan error, streamClients)
	for range streamClients {
		connected.Add(1)
		go func() { errs <- follow(ctx, hc, r.s.apiBase, &connected, seen) }()
	}
	connected.Wait()
	select {
	case err := <-errs:
		return fmt.Errorf("a stream client: %w", err)
	default:
	}
	// Commands run on other cases the whole time.
	targets, err := openCount(r.c, r.z.Clients, 20, "littering")
	if err != nil {
		return err
	}
	var meanwhile atomic.Int64
	stopCommands := make(chan struct{})
	var commands sync.WaitGroup
	commands.Add(1)
	go func() {
		defer commands.Done()
		_, _ = run(4, func(int64) bool {
			select {
			case <-stopCommands:
				return true
			default:
				return false
			}
		}, func(client int) error {
			id := targets[time.Now().Nanosecond()%len(targets)]
			if r.c.call("POST", "/v1/cases/"+id+"/comments", "bench-supervisor", map[string]string{"text": "on it"}, 200, nil) == nil {
				meanwhile.Add(1)
			}
			return nil
		})
	}()
	ids, err := openCount(r.c, 4, streamCases, "stream")
	if err != nil {
		close(stopCommands)
		return err
	}
	measured := map[string]bool{}
	for _, id := range ids {
		measured[id] = true
	}
	var lags []time.Duration
	got := map[string]int{}
	timeout := time.After(streamDeadline + 30*time.Second)
collect:
	for len(lags) < streamClients*len(ids) { // the opens may overshoot streamCases by a few
		select {
		case s := <-seen:
			if measured[s.caseID] {
				lags = append(lags, s.lag)
				got[s.caseID]++
			}
		case err := <-errs:
			close(stopCommands)
			return fmt.Errorf("a stream client: %w", err)
		case <-timeout:
			break collect
		}
	}
	close(stopCommands)
	commands.Wait()
	w.CommandsMeanwhile = meanwhile.Load()
	for _, id := range ids {
		w.StreamMissed += streamClients - got[id]
	}
	w.StreamLag = summarize(lags)
	r.logf("  %d escalations on %d streams: p50 %.0f ms, p99 %.0f ms, max %.0f ms after their deadline; %d missed; %d commands meanwhile",
		len(lags), streamClients, w.StreamLag.P50, w.StreamLag.P99, w.StreamLag.Max, w.StreamMissed, w.CommandsMeanwhile)
	return nil
}

// follow reads /v1/stream until ctx ends, sending each CaseEscalated it
// receives with how long after its deadline it arrived.
func follow(ctx context.Context, hc *http.Client, base string, connected *sync.WaitGroup, seen chan<- escalationSeen) error {
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/v1/stream", nil)
	req.Header.Set("Authorization", "Bearer bench-supervisor")
	res, err := hc.Do(req)
	if err != nil {
		connected.Done()
		return err
	}
	defer res.Body.Close()
	connected.Done()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("stream: %d", res.StatusCode)
	}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		at := time.Now()
		var e struct {
			CaseID string `json:"case_id"`
			Type   string `json:"type"`
			Data   struct {
				Level    int       `json:"level"`
				Deadline time.Time `json:"deadline"`
			} `json:"data"`
		}
		if json.Unmarshal([]byte(data), &e) == nil && e.Type == "CaseEscalated" && e.Data.Level == 1 {
			seen <- escalationSeen{e.CaseID, at.Sub(e.Data.Deadline)}
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("the stream ended: %v", sc.Err())
}

// measureBoard opens boardCases cases that fall due together, then reads
// the board as a page and as JSON, alternately, and weighs the pages.
func measureBoard(ctx context.Context, r *benchRun, w *webFigures) error {
	if _, err := openCount(r.c, r.z.Clients, boardCases, "stream"); err != nil {
		return err
	}
	time.Sleep(streamDeadline + time.Second)
	browser, err := signIn(r.s.apiBase, "bench-supervisor", "bench-supervisor-pw")
	if err != nil {
		return err
	}
	var html, jsonReads latencies
	var boardHTML []byte
	for i := range boardReads {
		t := time.Now()
		b, err := get(browser, r.s.apiBase+"/board")
		if err != nil {
			return err
		}
		html.add(time.Since(t))
		if i == 0 {
			boardHTML = b
			if n := strings.Count(string(b), `<tr class="level-`); n < boardCases {
				return fmt.Errorf("the board shows %d cases, want %d or more", n, boardCases)
			}
		}
		t = time.Now()
		if _, err := get(http.DefaultClient, r.s.apiBase+"/v1/escalations?limit=1000", "Authorization", "Bearer bench-supervisor"); err != nil {
			return err
		}
		jsonReads.add(time.Since(t))
	}
	w.BoardHTML, w.BoardJSON = html.dist(), jsonReads.dist()
	w.BoardHTMLBytes = len(boardHTML)
	id := regexp.MustCompile(`href="/cases/([0-9a-f-]{36})"`).FindSubmatch(boardHTML)
	if id == nil {
		return fmt.Errorf("the board links to no case")
	}
	// A page's weight is what a browser is sent: compressed.
	weigh := func(paths ...string) (int, error) {
		n := 0
		for _, p := range paths {
			b, err := get(browser, r.s.apiBase+p, "Accept-Encoding", "gzip")
			if err != nil {
				return 0, err
			}
			n += len(b)
		}
		return n, nil
	}
	if w.BoardBytes, err = weigh("/board", "/static/duban.css", "/static/live.js"); err != nil {
		return err
	}
	if w.CaseBytes, err = weigh("/cases/"+string(id[1]), "/static/duban.css", "/static/live.js"); err != nil {
		return err
	}
	r.logf("  board: HTML p50 %.1f ms, p99 %.1f ms; JSON p50 %.1f ms, p99 %.1f ms; the board weighs %d KB as sent (%d KB of HTML), a case page %d KB",
		w.BoardHTML.P50, w.BoardHTML.P99, w.BoardJSON.P50, w.BoardJSON.P99, w.BoardBytes>>10, w.BoardHTMLBytes>>10, w.CaseBytes>>10)
	return nil
}

// signIn signs in to the office pages and returns the browser-like client.
func signIn(base, user, password string) (*http.Client, error) {
	jar, _ := cookiejar.New(nil)
	// Uncompressed, as the JSON is read: the board's drawing is compared
	// with the JSON's, not gzip with none. The weight is taken compressed.
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DisableCompression = true
	c := &http.Client{Jar: jar, Timeout: time.Minute, Transport: t}
	res, err := c.PostForm(base+"/login", url.Values{"user": {user}, "password": {password}})
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	io.Copy(io.Discard, res.Body)
	if res.StatusCode != http.StatusOK || res.Request.URL.Path != "/board" {
		return nil, fmt.Errorf("sign in as %s: %d at %s", user, res.StatusCode, res.Request.URL.Path)
	}
	return c, nil
}

// get reads a page with the headers given as name, value pairs; 200 or
// an error. With Accept-Encoding set by hand, the client leaves the body
// as it was sent: compressed, when the server compresses it.
func get(c *http.Client, u string, headers ...string) ([]byte, error) {
	req, _ := http.NewRequest("GET", u, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err == nil && res.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %d %.200q", u, res.StatusCode, b)
	}
	return b, err
}

// webRows are the web phase's rows.
func webRows(w *webFigures) []row {
	lagMet := w.StreamLag.P99 <= 1000 && w.StreamMissed == 0
	weightMet := w.BoardBytes < pageWeightLimit && w.CaseBytes < pageWeightLimit
	return []row{
		alone(fmt.Sprintf("escalation on %d board streams, p99 after its deadline", w.StreamClients), "ms", w.StreamLag.P99, "≤ 1000 ms, none missed", &lagMet),
		alone(fmt.Sprintf("escalation on %d board streams, max", w.StreamClients), "ms", w.StreamLag.Max, "", nil),
		compare(fmt.Sprintf("board page, %d escalated, p50 (vs its JSON)", w.BoardCases), "ms", w.BoardHTML.P50, w.BoardJSON.P50, 2, false),
		compare(fmt.Sprintf("board page, %d escalated, p99 (vs its JSON)", w.BoardCases), "ms", w.BoardHTML.P99, w.BoardJSON.P99, 2, false),
		alone(fmt.Sprintf("page weight as sent: the board of %d (%d KB of HTML), or a case page", w.BoardCases, w.BoardHTMLBytes>>10), "KB",
			round(float64(max(w.BoardBytes, w.CaseBytes))/1024), "< 200 KB", &weightMet),
	}
}
