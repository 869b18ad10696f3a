package web

import (
	"net/http/httptest"
	"testing"
)

// The page's language is the one of the browser's that duban speaks and
// the browser prefers most, by its q-values, not by where it is written.
func TestLanguageByPreference(t *testing.T) {
	for header, want := range map[string]string{
		"":                          "zh",
		"en":                        "en",
		"en-GB,en;q=0.9":            "en",
		"zh-CN,zh;q=0.9,en;q=0.8":   "zh",
		"en;q=0.1, zh;q=0.9":        "zh", // written first, preferred least
		"fr, en;q=0.5":              "en", // French is not spoken here
		"fr, de;q=0.5":              "zh",
		"zh-TW":                     "zh",
		"*":                         "zh",
		"not a language header ;;;": "zh",
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Accept-Language", header)
		if got := language(r); got != want {
			t.Errorf("Accept-Language %q: %s, want %s", header, got, want)
		}
	}
}
