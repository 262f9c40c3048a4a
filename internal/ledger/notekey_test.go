package ledger

import (
	"crypto/rand"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

// Base64 key material often holds '+', the note key separator: every
// generated key must still parse.
func TestNoteKeysWithPlus(t *testing.T) {
	plus := 0
	for i := 0; i < 200; i++ {
		skey, vkey, err := note.GenerateKey(rand.Reader, "ledger.test")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Count(vkey, "+") > 2 {
			plus++
		}
		if _, err := NewKeySigner(skey); err != nil {
			t.Fatalf("private key %d: %v", i, err)
		}
		if _, _, err := noteKeyBytes(vkey, false); err != nil {
			t.Fatalf("public key %q: %v", vkey, err)
		}
	}
	if plus == 0 {
		t.Fatal("no generated key held '+' in its key material; the test proves nothing")
	}
}
