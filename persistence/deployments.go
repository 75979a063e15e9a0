package persistence

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Deployment is one saved set of component files. Every version is kept;
// at most one is active, the one the atom runs after a restart. Rolling
// back is activating an older version.
type Deployment struct {
	Version int               `json:"version"`
	At      time.Time         `json:"at"`
	Who     string            `json:"who"`
	Note    string            `json:"note,omitempty"`
	Files   map[string][]byte `json:"files,omitempty"` // file name to content; nil in listings
	Active  bool              `json:"active"`
}

// deploymentRecord is how a deployment's description is stored; its
// files live in their own bucket so that a listing does not read them.
type deploymentRecord struct {
	At   time.Time `json:"at"`
	Who  string    `json:"who"`
	Note string    `json:"note,omitempty"`
}

// SaveDeployment stores files as a new version, numbered one above the
// last, and returns it. It does not activate it: the runtime activates a
// deployment once it has started it, so that a deployment that fails to
// start leaves the previous one active.
func (s *Store) SaveDeployment(files map[string][]byte, who, note string) (Deployment, error) {
	if len(files) == 0 {
		return Deployment{}, fmt.Errorf("save deployment: no files: %w", ErrInvalid)
	}
	for name := range files {
		if name == "" || len(name) > maxKey {
			return Deployment{}, fmt.Errorf("save deployment: file name %.40q: %w (want 1 to %d bytes)", name, ErrInvalid, maxKey)
		}
	}
	d := Deployment{At: time.Now().UTC(), Who: who, Note: note, Files: make(map[string][]byte, len(files))}
	for name, content := range files {
		d.Files[name] = append([]byte{}, content...)
	}
	rec, err := json.Marshal(deploymentRecord{At: d.At, Who: who, Note: note})
	if err != nil {
		return Deployment{}, fmt.Errorf("save deployment: %w", err)
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketDeployments)
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		d.Version = int(seq)
		key := u64(seq)
		if err := b.Put(key, rec); err != nil {
			return err
		}
		fb, err := tx.Bucket(bucketDeployFiles).CreateBucket(key)
		if err != nil {
			return err
		}
		for name, content := range d.Files {
			if err := fb.Put([]byte(name), content); err != nil {
				return fmt.Errorf("file %q: %w", name, err)
			}
		}
		return nil
	})
	if err != nil {
		return Deployment{}, fmt.Errorf("save deployment: %w", closedErr(err))
	}
	s.log.Info().Int("version", d.Version).Str("who", who).Int("files", len(files)).Msg("deployment saved")
	return d, nil
}

// Deployments lists every version, newest first, without their files.
func (s *Store) Deployments() ([]Deployment, error) {
	var out []Deployment
	err := s.db.View(func(tx *bolt.Tx) error {
		active := activeVersion(tx)
		c := tx.Bucket(bucketDeployments).Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			d, err := decodeDeployment(k, v)
			if err != nil {
				return err
			}
			d.Active = d.Version == active
			out = append(out, d)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list deployments: %w", closedErr(err))
	}
	return out, nil
}

// Deployment returns one version with its files, or ErrNotFound.
func (s *Store) Deployment(version int) (Deployment, error) {
	var d Deployment
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		d, err = readDeployment(tx, version)
		return err
	})
	if err != nil {
		return Deployment{}, fmt.Errorf("deployment %d: %w", version, closedErr(err))
	}
	return d, nil
}

// Activate makes a saved version the active one (deploy, or roll back to
// an older one). It returns ErrNotFound for an unknown version.
func (s *Store) Activate(version int) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		if version <= 0 || tx.Bucket(bucketDeployments).Get(u64(uint64(version))) == nil {
			return ErrNotFound
		}
		return tx.Bucket(bucketMeta).Put(keyActiveDeployment, u64(uint64(version)))
	})
	if err != nil {
		return fmt.Errorf("activate deployment %d: %w", version, closedErr(err))
	}
	s.log.Info().Int("version", version).Msg("deployment activated")
	return nil
}

// Deactivate leaves no version active (undeploy): the atom starts with no
// processes. The versions stay saved.
func (s *Store) Deactivate() error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Delete(keyActiveDeployment)
	})
	if err != nil {
		return fmt.Errorf("deactivate deployment: %w", closedErr(err))
	}
	s.log.Info().Msg("deployment deactivated")
	return nil
}

// Active returns the active version with its files; false when none is.
func (s *Store) Active() (Deployment, bool, error) {
	var d Deployment
	var ok bool
	err := s.db.View(func(tx *bolt.Tx) error {
		v := activeVersion(tx)
		if v == 0 {
			return nil
		}
		var err error
		d, err = readDeployment(tx, v)
		ok = err == nil
		return err
	})
	if err != nil {
		return Deployment{}, false, fmt.Errorf("active deployment: %w", closedErr(err))
	}
	return d, ok, nil
}

// activeVersion returns the active version, 0 when none is.
func activeVersion(tx *bolt.Tx) int {
	v := tx.Bucket(bucketMeta).Get(keyActiveDeployment)
	if len(v) != 8 {
		return 0
	}
	return int(binary.BigEndian.Uint64(v))
}

func readDeployment(tx *bolt.Tx, version int) (Deployment, error) {
	if version <= 0 {
		return Deployment{}, ErrNotFound
	}
	key := u64(uint64(version))
	v := tx.Bucket(bucketDeployments).Get(key)
	if v == nil {
		return Deployment{}, ErrNotFound
	}
	d, err := decodeDeployment(key, v)
	if err != nil {
		return Deployment{}, err
	}
	d.Active = activeVersion(tx) == version
	d.Files = map[string][]byte{}
	if fb := tx.Bucket(bucketDeployFiles).Bucket(key); fb != nil {
		err = fb.ForEach(func(name, content []byte) error {
			d.Files[string(name)] = clone(content)
			return nil
		})
	}
	return d, err
}

func decodeDeployment(k, v []byte) (Deployment, error) {
	var rec deploymentRecord
	if err := json.Unmarshal(v, &rec); err != nil {
		return Deployment{}, fmt.Errorf("decode deployment %x: %w", k, err)
	}
	return Deployment{Version: int(binary.BigEndian.Uint64(k)), At: rec.At, Who: rec.Who, Note: rec.Note}, nil
}
