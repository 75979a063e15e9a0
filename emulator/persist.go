package emulator

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/rs/zerolog"
)

// persistFile keeps the bus in a JSON-lines file so that a restarted
// emulator has the same events and replay IDs. Each publish appends one
// line per event; opening compacts the file to the retained events and one
// marker line per channel that remembers its last replay ID.
type persistFile struct {
	path string
	f    *os.File
	w    *bufio.Writer
}

// persistedLine is one line of the file: an event (R, T, M set) or a
// channel marker (Last set).
type persistedLine struct {
	Channel string          `json:"c"`
	Last    int64           `json:"last,omitempty"`
	R       int64           `json:"r,omitempty"`
	T       int64           `json:"t,omitempty"`
	M       json.RawMessage `json:"m,omitempty"`
}

// openPersist loads path into the bus (keeping only defined channels and
// retained events), rewrites it compacted and opens it for appending.
func openPersist(path string, b *bus, log zerolog.Logger) (*persistFile, error) {
	if err := loadPersisted(path, b, log); err != nil {
		return nil, err
	}
	tmp := path + ".tmp"
	if err := writeCompacted(tmp, b); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("replace bus file %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open bus file %s: %w", path, err)
	}
	return &persistFile{path: path, f: f, w: bufio.NewWriterSize(f, 64<<10)}, nil
}

func loadPersisted(path string, b *bus, log zerolog.Logger) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if dir := filepath.Dir(path); dir != "" {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return fmt.Errorf("create folder for bus file: %w", err)
			}
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("read bus file: %w", err)
	}
	cutoff := b.cutoff()
	dropped := map[string]int{}
	lineNo := 0
	for len(data) > 0 {
		lineNo++
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var pl persistedLine
		if err := json.Unmarshal(line, &pl); err != nil {
			// A crash can cut the last line short; everything before it is good.
			log.Warn().Str("file", path).Int("line", lineNo).Err(err).Msg("skipping unreadable bus line")
			continue
		}
		cl := b.logs[pl.Channel]
		if cl == nil {
			dropped[pl.Channel]++
			continue
		}
		if pl.Last > cl.lastReplay {
			cl.lastReplay = pl.Last
		}
		if pl.R == 0 {
			continue
		}
		if pl.R > cl.lastReplay {
			cl.lastReplay = pl.R
		}
		if pl.T > cl.lastCreated {
			cl.lastCreated = pl.T
		}
		if pl.T < cutoff || (len(cl.events) > 0 && pl.R <= cl.events[len(cl.events)-1].replayID) {
			continue
		}
		msg := []byte(pl.M)
		cl.events = append(cl.events, storedEvent{
			replayID: pl.R, created: pl.T, msg: msg,
			uuidAt: int32(bytes.LastIndex(msg, []byte(`,"EventUuid":"`))),
		})
	}
	for ch, n := range dropped {
		log.Warn().Str("file", path).Str("event", ch).Int("events", n).Msg("dropping persisted events of an event no longer defined")
	}
	return nil
}

func writeCompacted(path string, b *bus) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("write bus file: %w", err)
	}
	w := bufio.NewWriter(f)
	for name, cl := range b.logs {
		line, _ := json.Marshal(persistedLine{Channel: name, Last: cl.lastReplay})
		w.Write(line)
		w.WriteByte('\n')
		for i := range cl.events {
			appendPersisted(w, name, &cl.events[i])
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("write bus file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write bus file: %w", err)
	}
	return nil
}

func appendPersisted(w *bufio.Writer, name string, ev *storedEvent) {
	w.WriteString(`{"c":`)
	w.Write(appendJSONString(nil, name))
	w.WriteString(`,"r":`)
	w.WriteString(strconv.FormatInt(ev.replayID, 10))
	w.WriteString(`,"t":`)
	w.WriteString(strconv.FormatInt(ev.created, 10))
	w.WriteString(`,"m":`)
	w.Write(ev.msg)
	w.WriteString("}\n")
}

// append writes events and flushes them before they become visible.
func (p *persistFile) append(name string, events []storedEvent) error {
	for i := range events {
		appendPersisted(p.w, name, &events[i])
	}
	return p.w.Flush()
}

func (p *persistFile) close() error {
	if err := p.w.Flush(); err != nil {
		p.f.Close()
		return fmt.Errorf("flush bus file: %w", err)
	}
	return p.f.Close()
}
