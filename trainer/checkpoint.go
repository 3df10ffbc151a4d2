package trainer

import (
	"bytes"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os"

	"github.com/delgrad-go/delgrad/internal/atomicfile"
)

// checkpointMagic starts every checkpoint file, followed by a version byte.
const checkpointMagic = "DELGRADCKPT"

// checkpointVersion is the format's version. Fields added to checkpoint
// since version 2 (Config) decode as zero from older files, and older
// programs skip them, so they do not change it.
const checkpointVersion = 2

// checkpoint is everything needed to continue a run exactly.
type checkpoint struct {
	Epoch      int
	W, Theta   [][]float64
	Opt        Optimizer
	BumpValue  float64
	LastBumped int
	RNG        []byte
	History    []EpochMetrics
	Best       Snapshot
	// Avg is the parameters' average (training.average; zero in older
	// checkpoints and without averaging).
	Avg Snapshot
	// Config is the TOML encoding of the configuration the state was
	// trained with (empty in checkpoints written before it was recorded),
	// so that a config.toml edited since is not applied without a word.
	Config string
}

// SaveCheckpoint writes the trainer's state to path atomically: a reader
// (or a run resumed after a crash) sees the previous checkpoint or this
// one, never a mix. The file ends with a CRC-32 of its content.
func (t *Trainer) SaveCheckpoint(path string) error {
	rng, err := t.pcg.MarshalBinary()
	if err != nil {
		return fmt.Errorf("checkpoint: rng state: %w", err)
	}
	var cfg bytes.Buffer
	if err := t.Cfg.Encode(&cfg); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	c := checkpoint{Epoch: t.Epoch, W: t.Model.W, Theta: t.Model.Theta, Opt: *t.Opt,
		BumpValue: t.BumpValue, LastBumped: t.LastBumped, RNG: rng, History: t.History, Best: t.Best,
		Avg: t.Avg, Config: cfg.String()}
	var buf bytes.Buffer
	buf.WriteString(checkpointMagic)
	buf.WriteByte(checkpointVersion)
	if err := gob.NewEncoder(&buf).Encode(&c); err != nil {
		return fmt.Errorf("checkpoint: encode: %w", err)
	}
	raw := binary.BigEndian.AppendUint32(buf.Bytes(), crc32.ChecksumIEEE(buf.Bytes()))
	if err := atomicfile.WriteFile(path, raw, 0o644); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

// LoadCheckpoint restores the state saved by SaveCheckpoint into a trainer
// built from the same configuration and data.
func (t *Trainer) LoadCheckpoint(path string) error {
	c, err := readCheckpoint(path)
	if err != nil {
		return err
	}
	if err := t.restore(c); err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	return nil
}

// readCheckpoint reads and decodes the checkpoint at path.
func readCheckpoint(path string) (*checkpoint, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	c, err := decodeCheckpoint(raw)
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	return c, nil
}

func decodeCheckpoint(raw []byte) (*checkpoint, error) {
	n := len(checkpointMagic)
	if len(raw) < n+5 || string(raw[:n]) != checkpointMagic {
		return nil, errors.New("not a delgrad checkpoint")
	}
	// Version 1 lacks the best-validation snapshot: it loads with none, and
	// model selection starts afresh from the next epoch.
	if raw[n] != checkpointVersion && raw[n] != 1 {
		return nil, fmt.Errorf("checkpoint version %d, this program reads versions 1 and %d", raw[n], checkpointVersion)
	}
	body, tail := raw[:len(raw)-4], raw[len(raw)-4:]
	if crc32.ChecksumIEEE(body) != binary.BigEndian.Uint32(tail) {
		return nil, errors.New("checksum mismatch: the file is damaged")
	}
	var c checkpoint
	if err := gob.NewDecoder(bytes.NewReader(body[n+1:])).Decode(&c); err != nil && err != io.EOF {
		return nil, fmt.Errorf("decode: %w", err)
	}
	return &c, nil
}

func (t *Trainer) restore(c *checkpoint) error {
	m := t.Model
	if err := m.checkShapes(c.W, c.Theta); err != nil {
		return err
	}
	if err := m.checkShapes(c.Best.W, c.Best.Theta); c.Best.Epoch > 0 && err != nil {
		return fmt.Errorf("best-validation snapshot: %w", err)
	}
	if err := m.checkShapes(c.Avg.W, c.Avg.Theta); c.Avg.Epoch > 0 && err != nil {
		return fmt.Errorf("parameter average: %w", err)
	}
	if len(c.Opt.M) != len(t.Opt.M) || c.Opt.Kind != t.Opt.Kind {
		return fmt.Errorf("optimiser %s with %d groups, the configuration has %s with %d", c.Opt.Kind, len(c.Opt.M), t.Opt.Kind, len(t.Opt.M))
	}
	pcg := &rand.PCG{}
	if err := pcg.UnmarshalBinary(c.RNG); err != nil {
		return fmt.Errorf("rng state: %w", err)
	}
	m.setParams(c.W, c.Theta) // in place: the optimiser groups alias them
	*t.Opt = c.Opt
	t.Epoch, t.BumpValue, t.LastBumped, t.History, t.Best, t.Avg = c.Epoch, c.BumpValue, c.LastBumped, c.History, c.Best, c.Avg
	*t.pcg = *pcg
	return nil
}
