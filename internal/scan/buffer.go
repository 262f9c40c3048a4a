package scan

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
)

// ErrLimit marks a limit that was hit; the artifact is inconclusive.
var ErrLimit = errors.New("limit exceeded")

type nopCloserAt struct{ *bytes.Reader }

func (nopCloserAt) Close() error { return nil }

func bytesReaderAt(b []byte) io.ReaderAt { return bytes.NewReader(b) }

type readerAtCloser interface {
	io.ReaderAt
	io.Closer
}

type tempFile struct{ *os.File }

func (t tempFile) Close() error {
	name := t.Name()
	err := t.File.Close()
	os.Remove(name)
	return err
}

// buffer decompresses a member under the size, ratio and total-expansion
// limits, in memory up to Limits.MemoryBuffer and in a temporary file beyond.
func (in *Input) buffer(ctx context.Context, open func() (io.ReadCloser, error), packed int64) (readerAtCloser, int64, error) {
	rc, err := open()
	if err != nil {
		return nil, 0, fmt.Errorf("open: %w", err)
	}
	defer rc.Close()
	lim := in.Limits
	var mem bytes.Buffer
	var tf *os.File
	var total int64
	chunk := make([]byte, 256<<10)
	cleanup := func() {
		if tf != nil {
			name := tf.Name()
			tf.Close()
			os.Remove(name)
		}
	}
	for {
		if err := ctx.Err(); err != nil {
			cleanup()
			return nil, 0, err
		}
		n, rerr := rc.Read(chunk)
		if n > 0 {
			total += int64(n)
			if total > lim.MaxMemberSize {
				cleanup()
				return nil, 0, fmt.Errorf("%w: member expands beyond %d bytes", ErrLimit, lim.MaxMemberSize)
			}
			if packed > 0 && total > lim.RatioFloor && float64(total)/float64(packed) > lim.MaxRatio {
				cleanup()
				return nil, 0, fmt.Errorf("%w: decompression ratio above %.0f (possible decompression bomb)", ErrLimit, lim.MaxRatio)
			}
			if in.acc.expanded.Add(int64(n)) > lim.MaxExpanded {
				cleanup()
				return nil, 0, fmt.Errorf("%w: artifact expands beyond %d bytes in all", ErrLimit, lim.MaxExpanded)
			}
			if tf == nil && int64(mem.Len()+n) > lim.MemoryBuffer {
				tf, err = os.CreateTemp("", "mlsec-member-*")
				if err != nil {
					return nil, 0, fmt.Errorf("spill to temporary file: %w", err)
				}
				if _, err := tf.Write(mem.Bytes()); err != nil {
					cleanup()
					return nil, 0, fmt.Errorf("spill to temporary file: %w", err)
				}
				mem = bytes.Buffer{}
			}
			if tf != nil {
				if _, err := tf.Write(chunk[:n]); err != nil {
					cleanup()
					return nil, 0, fmt.Errorf("spill to temporary file: %w", err)
				}
			} else {
				mem.Write(chunk[:n])
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			cleanup()
			return nil, 0, fmt.Errorf("decompress: %w", rerr)
		}
	}
	if tf != nil {
		return tempFile{tf}, total, nil
	}
	return nopCloserAt{bytes.NewReader(mem.Bytes())}, total, nil
}

// ReadBufferSize returns a read-buffer size for content of the given size
// (-1 when unknown): at most limit, and no larger than the content, so that
// scanning many small files does not allocate and clear large buffers.
func ReadBufferSize(size int64, limit int) int {
	const floor = 4 << 10
	if size < 0 || size > int64(limit) {
		return limit
	}
	return max(int(size), floor)
}
