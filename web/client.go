package web

import (
	"net/http"
	"net/netip"
	"strings"
)

// clientAddr is the address a request came from, for counting wrong
// passwords: the peer's, or, when the peer is one of the trusted proxies,
// the last address of X-Forwarded-For that is not a trusted proxy's. Each
// proxy appends the address it took the request from, so the entries left
// of the first one a trusted proxy wrote are whatever the client sent:
// never believed. With no trusted proxies, the header is ignored.
func clientAddr(r *http.Request, trusted []netip.Prefix) string {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	isTrusted := func(a netip.Addr) bool {
		for _, p := range trusted {
			if p.Contains(a.Unmap()) {
				return true
			}
		}
		return false
	}
	if !isTrusted(peer.Addr()) {
		return peer.Addr().Unmap().String()
	}
	var hops []string
	for _, h := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(h, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // not what a trusted proxy writes: count the request as the proxy's
		}
		if !isTrusted(a) {
			return a.Unmap().String()
		}
	}
	return peer.Addr().Unmap().String()
}
