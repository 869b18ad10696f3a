package app

import (
	"fmt"
	"testing"
	"time"

	"github.com/duban/duban"
)

// The limiter counts posts in fixed windows, says how long to wait when
// one is full, and forgets the windows of a day ago once a minute: its
// memory is a day's posters, each post costs the same however many.
func TestPostsWindows(t *testing.T) {
	var p posts
	t0 := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	for i := range 3 {
		if wait := p.take("addr:a", 3, time.Hour, t0.Add(time.Duration(i)*time.Minute)); wait != 0 {
			t.Fatalf("post %d waits %s", i+1, wait)
		}
	}
	if wait := p.take("addr:a", 3, time.Hour, t0.Add(10*time.Minute)); wait != 50*time.Minute {
		t.Fatalf("the fourth post waits %s, want 50m", wait)
	}
	if wait := p.take("addr:b", 3, time.Hour, t0.Add(10*time.Minute)); wait != 0 {
		t.Fatalf("another address waits %s", wait)
	}
	if wait := p.take("addr:a", 3, time.Hour, t0.Add(time.Hour)); wait != 0 {
		t.Fatalf("a post in the next window waits %s", wait)
	}
	for i := range 1000 {
		p.take(string(rune('a'+i%26))+string(rune(i)), 1, time.Hour, t0.Add(2*time.Hour))
	}
	p.take("addr:c", 3, time.Hour, t0.Add(26*time.Hour+time.Minute))
	if n := len(p.windows); n != 1 {
		t.Fatalf("%d windows kept a day later, want the one just opened", n)
	}
}

// A phone's check counts no address, and an address's no phone: the door
// asks for each in turn, and one shared window would stop the whole city.
func TestMayPostCountsWhatItIsGiven(t *testing.T) {
	p := duban.DefaultPolicy()
	p.Public.PerAddress, p.Public.PerPhone = 1, 1
	s := &Service{Policy: p}
	for i := range 5 {
		if err := s.MayPost("", fmt.Sprintf("1380013800%d", i)); err != nil {
			t.Fatalf("phone %d: %v", i, err)
		}
		if err := s.MayPost(fmt.Sprintf("10.0.0.%d", i), ""); err != nil {
			t.Fatalf("address %d: %v", i, err)
		}
	}
	if err := s.MayPost("10.0.0.1", ""); duban.ErrorCode(err) != duban.ETOOMANY {
		t.Fatalf("a second post from an address: %v", err)
	}
	if err := s.MayPost("", "13800138001"); duban.ErrorCode(err) != duban.ETOOMANY {
		t.Fatalf("a second post with a phone: %v", err)
	}
}
