package persistence

import (
	"bytes"
	"errors"
	"maps"
	"testing"
)

func TestDeploymentsVersionsAndRollback(t *testing.T) {
	s, _ := openStore(t, Options{})
	if _, ok, err := s.Active(); ok || err != nil {
		t.Fatalf("fresh store has an active deployment: %v, %v", ok, err)
	}
	v1files := map[string][]byte{"orders.yaml": []byte("kind: Process\nname: orders\n"), "sf.yaml": []byte("kind: Connection\n")}
	v1, err := s.SaveDeployment(v1files, "alice", "first")
	if err != nil {
		t.Fatal(err)
	}
	v1files["orders.yaml"][0] = 'X' // the caller's buffer changes after saving
	v2, err := s.SaveDeployment(map[string][]byte{"orders.yaml": []byte("v2"), "empty.yaml": {}}, "bob", "")
	if err != nil {
		t.Fatal(err)
	}
	v3, err := s.SaveDeployment(map[string][]byte{"orders.yaml": []byte("v3")}, "ci", "release 3")
	if err != nil {
		t.Fatal(err)
	}
	if v1.Version != 1 || v2.Version != 2 || v3.Version != 3 || v1.Active || v3.At.Before(v1.At) {
		t.Fatalf("versions %+v %+v %+v", v1, v2, v3)
	}
	if _, ok, _ := s.Active(); ok {
		t.Fatal("saving activated a deployment")
	}

	if err := s.Activate(3); err != nil {
		t.Fatal(err)
	}
	if err := s.Activate(1); err != nil { // roll back
		t.Fatal(err)
	}
	for _, bad := range []int{0, -1, 4} {
		if err := s.Activate(bad); !errors.Is(err, ErrNotFound) {
			t.Errorf("Activate(%d) = %v, want ErrNotFound", bad, err)
		}
	}

	s = reopen(t, s, Options{})
	act, ok, err := s.Active()
	if err != nil || !ok || act.Version != 1 || !act.Active || act.Who != "alice" || act.Note != "first" {
		t.Fatalf("active after rollback and reopen = %+v, %v, %v", act, ok, err)
	}
	if want := map[string][]byte{"orders.yaml": []byte("kind: Process\nname: orders\n"), "sf.yaml": []byte("kind: Connection\n")}; !maps.EqualFunc(act.Files, want, bytes.Equal) {
		t.Errorf("files of v1 = %q, want %q", act.Files, want)
	}
	list, err := s.Deployments()
	if err != nil || len(list) != 3 {
		t.Fatalf("Deployments = %+v, %v", list, err)
	}
	for i, want := range []struct {
		version int
		who     string
		active  bool
	}{{3, "ci", false}, {2, "bob", false}, {1, "alice", true}} {
		d := list[i]
		if d.Version != want.version || d.Who != want.who || d.Active != want.active || d.Files != nil {
			t.Errorf("listing[%d] = %+v, want version %d by %s active %v without files", i, d, want.version, want.who, want.active)
		}
	}
	d2, err := s.Deployment(2)
	if err != nil || string(d2.Files["orders.yaml"]) != "v2" || d2.Files["empty.yaml"] == nil || len(d2.Files["empty.yaml"]) != 0 || d2.Active {
		t.Errorf("Deployment(2) = %+v, %v", d2, err)
	}
	if _, err := s.Deployment(9); !errors.Is(err, ErrNotFound) {
		t.Errorf("Deployment(9) = %v, want ErrNotFound", err)
	}

	if err := s.Deactivate(); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Active(); ok {
		t.Error("active after Deactivate")
	}
	if list, _ := s.Deployments(); len(list) != 3 || list[2].Active {
		t.Errorf("after Deactivate: %+v", list)
	}
	// Versions keep counting after an undeploy.
	if v4, err := s.SaveDeployment(map[string][]byte{"a.yaml": []byte("a")}, "x", ""); err != nil || v4.Version != 4 {
		t.Errorf("next save = %+v, %v", v4, err)
	}
}

func TestSaveDeploymentRefusesEmpty(t *testing.T) {
	s, _ := openStore(t, Options{})
	for name, files := range map[string]map[string][]byte{
		"no files":   nil,
		"empty name": {"": []byte("x")},
	} {
		if _, err := s.SaveDeployment(files, "me", ""); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if list, _ := s.Deployments(); len(list) != 0 {
		t.Errorf("refused saves left %+v", list)
	}
}
