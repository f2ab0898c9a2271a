package seeder

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// pieceReserveAhead is how many piece numbers each save of the piece file reserves: a
// restart resumes at most this far beyond the last number used (far below the 2^20 jump
// receivers accept), and at a few pieces a second the file is written every few hours.
const pieceReserveAhead = 1 << 16

// DefaultPieceFile is the piece file of the stream published with the key at keyPath and
// salt: beside the key, one per salt, since streams sharing a key number independently.
func DefaultPieceFile(keyPath string, salt []byte) string {
	if len(salt) == 0 {
		return keyPath + ".pieces"
	}
	sum := sha256.Sum256(salt)
	return keyPath + "." + hex.EncodeToString(sum[:4]) + ".pieces"
}

// LoadPieceFile reads the piece reservation saved at path: every piece number a previous
// run of the stream used is below it. A missing file is 0 (no previous run known).
func LoadPieceFile(path string) (uint64, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 64))
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("piece file %s: not a piece number: %w", path, err)
	}
	return v, nil
}

// SavePieceFile writes v to path so that it survives a crash: a temporary file beside it,
// synced, then renamed over it.
func SavePieceFile(path string, v uint64) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename, there is nothing left to remove
	_, err = fmt.Fprintf(tmp, "%d\n", v)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	return err
}
