package outbox

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"mime"
	"net"
	"net/mail"
	"net/smtp"
	"net/url"
	"strings"
	"time"
)

// mailText is a mail's plain text of notices: a paragraph per event.
func mailText(ns []notice) string {
	var b strings.Builder
	for _, n := range ns {
		fmt.Fprintf(&b, "%s：%s\r\n", n.what, n.category)
		for _, f := range n.facts {
			fmt.Fprintf(&b, "%s\r\n", f)
		}
		fmt.Fprintf(&b, "%s：%s\r\n\r\n", n.open, n.url)
	}
	return b.String()
}

// mailMessage is the whole message, headers and body (UTF-8 text in
// base64), with the id a repeat of the same delivery keeps.
func mailMessage(t Target, id, title string, ns []notice, now time.Time) []byte {
	var b strings.Builder
	from, _ := mail.ParseAddress(t.From)
	var to []string
	for _, a := range t.To {
		addr, _ := mail.ParseAddress(a)
		to = append(to, addr.String())
	}
	fmt.Fprintf(&b, "From: %s\r\n", from)
	fmt.Fprintf(&b, "To: %s\r\n", strings.Join(to, ", "))
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.BEncoding.Encode("UTF-8", title))
	fmt.Fprintf(&b, "Date: %s\r\n", now.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%s@duban>\r\n", id)
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	body := base64.StdEncoding.EncodeToString([]byte(mailText(ns)))
	for len(body) > 76 {
		b.WriteString(body[:76] + "\r\n")
		body = body[76:]
	}
	b.WriteString(body + "\r\n")
	return []byte(b.String())
}

// sendMail hands the message to the subscription's SMTP server:
// smtps:// speaks TLS from the start, smtp:// upgrades with STARTTLS, and
// a server that does not offer it is refused unless the subscription says
// it is a plaintext relay; a user in the URL signs in with the password
// from secret_env (net/smtp refuses to send it unencrypted but to
// loopback).
// The connection goes through the same guard as the webhooks' and the
// whole exchange is bounded like an attempt.
func sendMail(ctx context.Context, t Target, id, title string, ns []notice, now time.Time) error {
	u, err := url.Parse(t.URL)
	if err != nil {
		return err
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = map[string]string{"smtp": "587", "smtps": "465"}[u.Scheme]
	}
	ctx, cancel := context.WithTimeout(ctx, attemptTimeout)
	defer cancel()
	conn, err := dialer(t.AllowPrivate).DialContext(ctx, "tcp", net.JoinHostPort(host, port))
	if err != nil {
		return err
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	tlsConfig := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12, RootCAs: t.RootCAs}
	if u.Scheme == "smtps" {
		conn = tls.Client(conn, tlsConfig)
	}
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return err
	}
	defer c.Close()
	if u.Scheme == "smtp" {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(tlsConfig); err != nil {
				return err
			}
		} else if !t.PlaintextRelay {
			return fmt.Errorf("the mail server %s offers no STARTTLS: mail is not sent in plaintext (a relay on this host or network that speaks no TLS needs plaintext_relay: true)", u.Host)
		}
	}
	if u.User != nil {
		if err := c.Auth(smtp.PlainAuth("", u.User.Username(), string(t.Key), host)); err != nil {
			return fmt.Errorf("signing in to the mail server: %w", err)
		}
	}
	from, _ := mail.ParseAddress(t.From)
	if err := c.Mail(from.Address); err != nil {
		return err
	}
	for _, a := range t.To {
		to, _ := mail.ParseAddress(a)
		if err := c.Rcpt(to.Address); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(mailMessage(t, id, title, ns, now)); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}
