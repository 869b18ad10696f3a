// Package messages is duban's message catalogue: every text a person reads,
// one file per language (zh.json, en.json), with the same keys. The office
// pages and the messages sent to the units' work chats take their words
// from here.
package messages

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
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
	return out, loadRefusals(out)
}

// T is the message key formatted with args, and whether there is one.
func (c Catalog) T(key string, args ...any) (string, bool) {
	msg, ok := c[key]
	if ok && len(args) > 0 {
		msg = fmt.Sprintf(msg, args...)
	}
	return msg, ok
}

// refusalPrefix keys a refusal's text in a catalogue: the English format,
// as duban.Text.Key has it.
const refusalPrefix = "refusal:"

// Refusal is the catalogue's text of a message whose English format is
// key (duban.Text), and whether it has one. (In English, the key is the
// text.)
func (c Catalog) Refusal(key string) (string, bool) {
	msg, ok := c[refusalPrefix+key]
	return msg, ok
}

// verbs are a format's verbs; formattedArg is a reordered %s.
var (
	verbs        = regexp.MustCompile(`%(?:\[\d+\])?[-+# 0]*\d*(?:\.\d+)?[a-zA-Z%]`)
	formattedArg = regexp.MustCompile(`^%\[\d+\]s$`)
)

// loadRefusals adds the refusals of refusals.LANG.json to the catalogues
// that have one: each maps an English format to the language's, whose
// verbs are all %s or %[n]s (the arguments come formatted).
func loadRefusals(out map[string]Catalog) error {
	for lang, c := range out {
		b, err := files.ReadFile("refusals." + lang + ".json")
		if errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			return err
		}
		var m map[string]string
		if err := json.Unmarshal(b, &m); err != nil {
			return fmt.Errorf("messages/refusals.%s.json: %w", lang, err)
		}
		for k, v := range m {
			for _, verb := range verbs.FindAllString(v, -1) {
				if verb != "%s" && verb != "%%" && !formattedArg.MatchString(verb) {
					return fmt.Errorf("messages/refusals.%s.json: %q has the verb %s: its arguments come formatted, take each as %%s or %%[n]s", lang, k, verb)
				}
			}
			c[refusalPrefix+k] = v
		}
	}
	return nil
}
