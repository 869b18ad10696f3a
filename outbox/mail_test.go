package outbox_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"go/build"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/duban/duban"
	"github.com/duban/duban/internal/freeport"
	"github.com/duban/duban/outbox"
)

const mailPolicy = `timezone: Asia/Shanghai
units:
  - {id: sanitation, name: {zh: 环卫中心, en: Sanitation Centre}}
categories:
  - code: littering
    name: {zh: 乱扔垃圾, en: Littering}
    unit: sanitation
    sla:
      normal: {acknowledge: 30m, resolve: 24h, verify: 4h}
subscriptions:
  - {name: sanitation-mail, kind: email, url_env: MAIL_URL, secret_env: MAIL_PASSWORD,
     from: "督办系统 <duban@example.gov.cn>", to: [chief@sanitation.example.gov.cn, "值班室 <duty@sanitation.example.gov.cn>"],
     units: [sanitation], events: [CaseDispatched]}
  - {name: wrong-password, kind: email, url_env: MAIL_URL, secret_env: WRONG_PASSWORD,
     from: duban@example.gov.cn, to: [chief@sanitation.example.gov.cn], events: [CaseDispatched]}
`

// A unit's mailbox hears of a case dispatched to it, in Chinese, through a
// real SMTP server (Mailpit) that requires STARTTLS and a password: the
// message sent while the server was down arrives once it is up, once; a
// subscription with the wrong password gets nothing through and its
// delivery ends failed, saying why.
func TestMail(t *testing.T) {
	bin := mailpitBinary(t)
	s := newStore(t)
	ctx := context.Background()
	policy, err := duban.ParsePolicy("mail.yaml", []byte(mailPolicy))
	if err != nil {
		t.Fatal(err)
	}
	smtpPort, err := freeport.Get()
	if err != nil {
		t.Fatal(err)
	}
	targets, err := outbox.Targets(policy.Subscriptions, env{"MAIL_URL": "smtp://duban@127.0.0.1:" + strconv.Itoa(smtpPort),
		"MAIL_PASSWORD": "secret-pw", "WRONG_PASSWORD": "guess"}.get)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	roots := certificate(t, dir)
	for i := range targets {
		targets[i].AllowPrivate = true // the server is on loopback
		targets[i].RootCAs = roots
	}
	d := &outbox.Deliverer{Store: s, Targets: targets, Policy: policy, PublicURL: "https://duban.example.gov.cn",
		Poll: 10 * time.Millisecond, Retries: []time.Duration{200 * time.Millisecond, 200 * time.Millisecond, 200 * time.Millisecond},
		Logger: slog.New(slog.DiscardHandler)}
	run := func(within time.Duration) {
		runCtx, stop := context.WithTimeout(ctx, within)
		defer stop()
		d.Run(runCtx)
	}
	placeCursors(t, s, targets)
	id := open(t, s, 1)
	run(100 * time.Millisecond) // the server is not up: the first attempts fail

	api := startMailpit(t, bin, dir, smtpPort)
	var list struct {
		Messages []struct {
			ID        string
			MessageID string
			From      struct{ Name, Address string }
			To        []struct{ Name, Address string }
			Subject   string
		}
	}
	// From here the deliverer runs without a break, as it does in
	// production, until the message arrives and a second more, in which no
	// second copy may come. Cutting it into short windows ended attempts
	// in the middle on a machine busy with other tests under the race
	// detector (a TLS handshake took longer than a window), each cut
	// attempt keeping its delivery claimed for the lease (a minute).
	// An attempt cut by the end of the window above still waits for its
	// lease to end (a minute): hence the two minutes.
	var logs syncBuffer
	d.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the deliverer's log:\n%s", logs.String())
		}
	})
	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan struct{})
	go func() { defer close(ran); d.Run(runCtx) }()
	// It runs until the subscription with the wrong password has given up
	// too (its attempt cut by the window above may wait for its lease).
	gaveUp := func() bool {
		failed, err := s.FailedDeliveries(ctx, "wrong-password", 10)
		return err == nil && len(failed) > 0
	}
	for deadline := time.Now().Add(120 * time.Second); (len(list.Messages) == 0 || !gaveUp()) && time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		getJSON(t, api+"/api/v1/messages", &list)
	}
	time.Sleep(time.Second)
	stop()
	<-ran
	getJSON(t, api+"/api/v1/messages", &list)
	if len(list.Messages) != 1 {
		t.Fatalf("the server took %d messages, want 1: %+v", len(list.Messages), list.Messages)
	}
	m := list.Messages[0]
	var to []string
	for _, a := range m.To {
		to = append(to, a.Name+" "+a.Address)
	}
	if m.Subject != "督办提醒" || m.From.Name != "督办系统" || m.From.Address != "duban@example.gov.cn" ||
		strings.Join(to, ", ") != " chief@sanitation.example.gov.cn, 值班室 duty@sanitation.example.gov.cn" {
		t.Errorf("message %q from %v to %v", m.Subject, m.From, to)
	}
	var body struct{ Text string }
	getJSON(t, api+"/api/v1/message/"+m.ID, &body)
	t.Logf("the mail:\n%s", body.Text)
	for _, want := range []string{"派遣：乱扔垃圾", "责任单位：环卫中心", "时限：", "（签收）", "查看案件：https://duban.example.gov.cn/cases/" + id} {
		if !strings.Contains(body.Text, want) {
			t.Errorf("the mail lacks %q:\n%s", want, body.Text)
		}
	}
	events, err := s.Events(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.MessageID, events[1].ID) {
		t.Errorf("Message-ID %q is not the event's %s", m.MessageID, events[1].ID)
	}

	failed, err := s.FailedDeliveries(ctx, "wrong-password", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(failed) != 1 || !strings.Contains(failed[0].LastError, "signing in to the mail server") {
		t.Fatalf("the subscription with the wrong password: failed deliveries %+v, want one refused at sign-in", failed)
	}
}

// mailpitBinary finds Mailpit (go install github.com/axllent/mailpit@v1.33.1;
// .ci/run installs it): on PATH or in GOPATH/bin. Without it the test
// skips, except in CI.
func mailpitBinary(t *testing.T) string {
	t.Helper()
	if bin, err := exec.LookPath("mailpit"); err == nil {
		return bin
	}
	bin := filepath.Join(build.Default.GOPATH, "bin", "mailpit")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	if os.Getenv("CI") != "" {
		t.Fatal("mailpit is not installed: .ci/run installs it")
	}
	t.Skip("mailpit is not installed (go install github.com/axllent/mailpit@v1.33.1): mail is not tested")
	return ""
}

// startMailpit runs Mailpit on loopback until the test ends, its SMTP port
// requiring STARTTLS (dir's cert.pem and key.pem) and user duban's
// password, and returns the address of its API.
func startMailpit(t *testing.T, bin, dir string, smtpPort int) string {
	t.Helper()
	httpPort, err := freeport.Get()
	if err != nil {
		t.Fatal(err)
	}
	auth := filepath.Join(dir, "smtp-users")
	if err := os.WriteFile(auth, []byte("duban:secret-pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--quiet", "--database", filepath.Join(dir, "mailpit.db"),
		"--listen", "127.0.0.1:"+strconv.Itoa(httpPort), "--smtp", "127.0.0.1:"+strconv.Itoa(smtpPort),
		"--smtp-tls-cert", filepath.Join(dir, "cert.pem"), "--smtp-tls-key", filepath.Join(dir, "key.pem"),
		"--smtp-require-starttls", "--smtp-auth-file", auth, "--smtp-disable-rdns")
	var logs bytes.Buffer // it logs each refusal: shown only when the test fails
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("mailpit's log:\n%s", logs.String())
		}
	})
	api := "http://127.0.0.1:" + strconv.Itoa(httpPort)
	for deadline := time.Now().Add(30 * time.Second); ; {
		res, err := http.Get(api + "/livez")
		if err == nil {
			res.Body.Close()
		}
		c, dialErr := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(smtpPort))
		if dialErr == nil {
			c.Close()
		}
		if err == nil && res.StatusCode == http.StatusOK && dialErr == nil {
			return api
		}
		if time.Now().After(deadline) {
			t.Fatalf("mailpit did not start: %v %v", err, dialErr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// certificate writes a self-signed certificate for 127.0.0.1 and its key
// to dir (cert.pem, key.pem) and returns a pool that trusts it.
func certificate(t *testing.T, dir string) *x509.CertPool {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mail.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	for name, block := range map[string]*pem.Block{"cert.pem": {Type: "CERTIFICATE", Bytes: der}, "key.pem": {Type: "PRIVATE KEY", Bytes: keyDER}} {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool
}

func getJSON(t *testing.T, url string, into any) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, res.Status)
	}
	if err := json.NewDecoder(res.Body).Decode(into); err != nil {
		t.Fatal(fmt.Errorf("GET %s: %w", url, err))
	}
}
