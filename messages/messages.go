// Package messages is duban's message catalogue: every text a person reads,
// one file per language (zh.json, en.json), with the same keys. The office
// pages and the messages sent to the units' work chats take their words
// from here.
package messages

import (
	"embed"
	"encoding/json"
	"fmt"
)

//go:embed *.json
var files embed.FS

// Languages are the catalogue's languages, the default first.
var Languages = []string{"zh", "en"}

// Catalog is one language's messages by key.
type Catalog map[string]string

// Load reads the catalogues and checks that they hold the same keys: no
// text is ever shown as its key.
func Load() (map[string]Catalog, error) {
	out := map[string]Catalog{}
	for _, lang := range Languages {
		b, err := files.ReadFile(lang + ".json")
		if err != nil {
			return nil, err
		}
		var c Catalog
		if err := json.Unmarshal(b, &c); err != nil {
			return nil, fmt.Errorf("messages/%s.json: %w", lang, err)
		}
		out[lang] = c
	}
	for _, a := range Languages {
		for _, b := range Languages {
			for key := range out[a] {
				if _, ok := out[b][key]; !ok {
					return nil, fmt.Errorf("messages/%s.json lacks %q", b, key)
				}
			}
		}
	}
	return out, nil
}

// T is the message key formatted with args, and whether there is one.
func (c Catalog) T(key string, args ...any) (string, bool) {
	msg, ok := c[key]
	if ok && len(args) > 0 {
		msg = fmt.Sprintf(msg, args...)
	}
	return msg, ok
}
