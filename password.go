package duban

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Passwords of the office pages are kept as argon2id hashes in the PHC
// string format, "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>" (base64
// without padding), the format other tools read and write. The parameters
// are OWASP's recommended minimum for argon2id: 19 MiB of memory, two
// passes, one lane.
const (
	argonMemory  = 19 * 1024 // KiB
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
)

// HashPassword returns the argon2id hash of password, with a fresh salt.
func HashPassword(password string) string {
	salt := make([]byte, 16)
	rand.Read(salt)
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

// passwordHash is a parsed argon2id hash.
type passwordHash struct {
	memory  uint32
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

// parsePasswordHash reads an argon2id PHC string, refusing parameters that
// would make a check cost more than a sign-in should (a policy file must not
// be a way to exhaust the server).
func parsePasswordHash(s string) (passwordHash, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return passwordHash{}, fmt.Errorf("not an argon2id hash ($argon2id$v=19$m=…,t=…,p=…$salt$hash): make one with duban passwd")
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return passwordHash{}, fmt.Errorf("argon2id version must be v=%d", argon2.Version)
	}
	var h passwordHash
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &h.memory, &h.time, &h.threads); err != nil {
		return passwordHash{}, fmt.Errorf("argon2id parameters must read m=…,t=…,p=…")
	}
	if h.memory < 8*1024 || h.memory > 256*1024 || h.time < 1 || h.time > 10 || h.threads < 1 || h.threads > 16 {
		return passwordHash{}, fmt.Errorf("argon2id parameters out of range: m 8192–262144 KiB, t 1–10, p 1–16")
	}
	b64 := base64.RawStdEncoding
	var err error
	if h.salt, err = b64.DecodeString(parts[4]); err != nil || len(h.salt) < 8 {
		return passwordHash{}, fmt.Errorf("the salt must be at least 8 bytes, base64 without padding")
	}
	if h.key, err = b64.DecodeString(parts[5]); err != nil || len(h.key) < 16 || len(h.key) > 64 {
		return passwordHash{}, fmt.Errorf("the hash must be 16–64 bytes, base64 without padding")
	}
	return h, nil
}

func (h passwordHash) matches(password string) bool {
	key := argon2.IDKey([]byte(password), h.salt, h.time, h.memory, h.threads, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(key, h.key) == 1
}
