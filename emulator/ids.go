package emulator

import (
	"crypto/rand"
	"fmt"
	"strings"
)

// idSuffixChars maps the case bits of a 15-character ID to its 3-character
// suffix, as Salesforce does: the 18-character form survives
// case-insensitive systems.
const idSuffixChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"

// salesforceID turns a 15-character ID into the 18-character form.
func salesforceID(id15 string) string {
	var b strings.Builder
	b.WriteString(id15)
	for chunk := 0; chunk < 3; chunk++ {
		bits := 0
		for i := 0; i < 5; i++ {
			c := id15[chunk*5+i]
			if c >= 'A' && c <= 'Z' {
				bits |= 1 << i
			}
		}
		b.WriteByte(idSuffixChars[bits])
	}
	return b.String()
}

// makeID builds an 18-character ID from a 3-character key prefix and a
// number, e.g. makeID("005", 1) for the first user.
func makeID(prefix string, n int) string {
	return salesforceID(fmt.Sprintf("%s%s%07d", prefix, "AT000", n)[:15])
}

// randomToken returns n random characters from alphabet.
func randomToken(n int, alphabet string) string {
	buf := make([]byte, n)
	// Since Go 1.24, crypto/rand.Read never returns an error.
	_, _ = rand.Read(buf)
	for i, b := range buf {
		buf[i] = alphabet[int(b)%len(alphabet)]
	}
	return string(buf)
}

const (
	lowerAlnum = "abcdefghijklmnopqrstuvwxyz0123456789"
	tokenChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._"
)
