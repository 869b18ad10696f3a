package devserver

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A new store gets four history shards; a store keeps the number it was
// made with (one for a store made before the number was noted), and asking
// for another is an error, not a server that will not start.
func TestSQLiteShards(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "temporal.db")
	for _, tt := range []struct {
		name   string
		db     bool   // the store exists
		note   string // what file.shards holds ("": no such file)
		want   int
		got    int
		refuse string
	}{
		{name: "in memory", got: 4},
		{name: "new", got: 4},
		{name: "new, asked for 2", want: 2, got: 2},
		{name: "made before the note", db: true, got: 1},
		{name: "made with 4", db: true, note: "4\n", got: 4},
		{name: "made with 4, asked for 1", db: true, note: "4\n", want: 1, refuse: "made with 4 history shards, not 1"},
		{name: "a bad note", db: true, note: "four", refuse: "not a number of shards"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			os.Remove(file)
			os.Remove(file + ".shards")
			if tt.db {
				os.WriteFile(file, []byte("SQLite format 3\x00"), 0o644)
			}
			if tt.note != "" {
				os.WriteFile(file+".shards", []byte(tt.note), 0o644)
			}
			f := file
			if tt.name == "in memory" {
				f = ""
			}
			got, err := sqliteShards(f, tt.want)
			if tt.refuse != "" {
				if err == nil || !strings.Contains(err.Error(), tt.refuse) {
					t.Fatalf("got %d, %v; want a refusal saying %q", got, err, tt.refuse)
				}
				return
			}
			if err != nil || got != tt.got {
				t.Fatalf("got %d, %v; want %d", got, err, tt.got)
			}
		})
	}
}
