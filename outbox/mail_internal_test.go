package outbox

import (
	"bufio"
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/duban/duban"
)

// relay is an SMTP server that offers no STARTTLS, as a relay on the
// same host may, or as a server whose answer someone on the path
// stripped of it; it records the commands it was given.
type relay struct {
	addr string
	mu   sync.Mutex
	got  []string
}

func startRelay(t *testing.T) *relay {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	r := &relay{addr: l.Addr().String()}
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go r.serve(conn)
		}
	}()
	return r
}

func (r *relay) serve(conn net.Conn) {
	defer conn.Close()
	in := bufio.NewReader(conn)
	say := func(s string) { conn.Write([]byte(s + "\r\n")) }
	say("220 relay.example ESMTP")
	for data := false; ; {
		line, err := in.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		if data {
			if line == "." {
				data = false
				say("250 queued")
			}
			continue
		}
		verb, _, _ := strings.Cut(line, " ")
		r.mu.Lock()
		r.got = append(r.got, strings.ToUpper(verb))
		r.mu.Unlock()
		switch strings.ToUpper(verb) {
		case "EHLO":
			say("250-relay.example")
			say("250 8BITMIME") // no STARTTLS
		case "DATA":
			data = true
			say("354 go on")
		case "QUIT":
			say("221 bye")
			return
		default:
			say("250 ok")
		}
	}
}

func (r *relay) commands() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.got, " ")
}

// An smtp:// server that does not offer STARTTLS gets no mail, unless
// the subscription says it is a plaintext relay on purpose.
func TestMailNeedsTLSUnlessARelaySaysSo(t *testing.T) {
	ctx := context.Background()
	sub := duban.Subscription{Name: "mail", Kind: duban.SubscriptionEmail, From: "duban@example.gov.cn",
		To: []string{"chief@example.gov.cn"}, AllowPrivate: true}

	r := startRelay(t)
	err := sendMail(ctx, Target{Subscription: sub, URL: "smtp://" + r.addr}, "e1", "派遣", nil, time.Now())
	if err == nil || !strings.Contains(err.Error(), "offers no STARTTLS") {
		t.Fatalf("mail to a server without STARTTLS: %v, want refused", err)
	}
	if got := r.commands(); strings.Contains(got, "MAIL") || strings.Contains(got, "DATA") {
		t.Fatalf("the server was given %s: no mail may leave in plaintext", got)
	}

	plain := startRelay(t)
	sub.PlaintextRelay = true
	if err := sendMail(ctx, Target{Subscription: sub, URL: "smtp://" + plain.addr}, "e2", "派遣", nil, time.Now()); err != nil {
		t.Fatalf("mail to a plaintext relay said to be one: %v", err)
	}
	if got := plain.commands(); !strings.Contains(got, "MAIL RCPT DATA") {
		t.Fatalf("the plaintext relay was given %q, want the mail", got)
	}
}
