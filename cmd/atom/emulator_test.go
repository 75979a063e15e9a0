package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// `atom emulator` prints where it listens and how to reach it, serves a
// working org there, and stops on Ctrl-C.
func TestEmulatorCommandServesAndSaysWhere(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out lockedBuffer
	done := make(chan error, 1)
	go func() { done <- runEmulator(ctx, []string{"--listen", "127.0.0.1:0", "--log-level", "warn"}, &out) }()
	listening := regexp.MustCompile(`listening on (http://\S+)`)
	var base string
	for deadline := time.Now().Add(10 * time.Second); base == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := listening.FindStringSubmatch(out.String()); m != nil {
			base = m[1]
		}
	}
	if base == "" {
		t.Fatalf("no address printed:\n%s", out.String())
	}
	for _, want := range []string{"/services/oauth2/token", "/cometd/", "client id atom-emulator", "Order_Placed__e"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("banner lacks %q:\n%s", want, out.String())
		}
	}
	resp, err := http.PostForm(base+"/services/oauth2/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {"atom-emulator"}, "client_secret": {"atom-emulator-secret"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var tok struct{ AccessToken, InstanceURL string }
	err = json.NewDecoder(resp.Body).Decode(&struct {
		AccessToken *string `json:"access_token"`
		InstanceURL *string `json:"instance_url"`
	}{&tok.AccessToken, &tok.InstanceURL})
	resp.Body.Close()
	if err != nil || tok.AccessToken == "" || tok.InstanceURL != base {
		t.Fatalf("token answer %+v, %v; want a token and instance_url %s", tok, err, base)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("atom emulator did not stop cleanly: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("atom emulator did not stop on cancel")
	}
}
