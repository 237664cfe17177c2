package archive

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sort"

	"github.com/klauspost/compress/zstd"

	"github.com/ocipack/ocipack/internal/zstdframes"
)

// The zstd archives ocipack writes follow Zstandard's seekable format
// (contrib/seekable_format in the zstd sources): the stream is a series of
// independent frames, each at most maxFrame bytes once decompressed, and a
// new frame starts before each tar entry once the current one holds at
// least minFrame bytes. A skippable frame at the end holds the seek table,
// the compressed and decompressed size of every frame. Plain zstd tools
// decompress such a stream as any other and ignore the table; Open uses it
// to start decompressing at the frame holding a blob.
const (
	maxFrame = 4 << 20
	minFrame = 256 << 10

	skippableSeekMagic = 0x184D2A5E
	seekableMagic      = 0x8F92EAB1
	seekFooterSize     = 9
	seekEntrySize      = 8
	seekChecksumFlag   = 1 << 7
	// maxSeekFrames bounds the seek table read into memory (1 TiB of
	// content in 4 MiB frames).
	maxSeekFrames = 1 << 18
)

var zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}

// maxZstdWindow bounds the window a zstd stream may ask for, which the
// decoder allocates as soon as it reads the frame header: a few bytes
// asking for 1 GiB would otherwise cost 1 GiB for every decoder (one per
// Fetch when reading in place). 128 MiB is what `zstd --long` uses (window
// log 27), as the unpack package allows; ocipack's own frames need 4 MiB.
const maxZstdWindow = 128 << 20

// frame locates one zstd frame: where it starts in the compressed stream
// and where its content starts in the decompressed one.
type frame struct{ c, d int64 }

// frameWriter writes a seekable zstd stream to w. The frames are
// compressed several at once (internal/zstdframes), each on its own: the
// bytes depend on where frames are cut (maxFrame, and boundary before
// each tar entry), never on the number of CPUs.
type frameWriter struct {
	w     io.Writer
	z     *zstdframes.Writer
	sizes [][2]uint32 // compressed, decompressed; appended by z's writing goroutine until z.Close returns
	err   error
}

// exportWorkers bounds the frames compressed at once: each one in flight
// holds up to maxFrame of input and as much of output.
const exportWorkers = 4

func newFrameWriter(w io.Writer) (*frameWriter, error) {
	f := &frameWriter{w: w}
	z, err := zstdframes.NewWriter(w, zstdframes.Options{
		FrameSize: maxFrame,
		Workers:   min(runtime.GOMAXPROCS(0), exportWorkers),
		Level:     zstd.SpeedDefault,
		OnFrame: func(c, d int) {
			f.sizes = append(f.sizes, [2]uint32{uint32(c), uint32(d)})
		},
	})
	if err != nil {
		return nil, err
	}
	f.z = z
	return f, nil
}

func (f *frameWriter) Write(p []byte) (int, error) {
	return f.z.Write(p)
}

// boundary starts a new frame if the current one is large enough: called
// before each tar entry.
func (f *frameWriter) boundary() error {
	return f.z.EndFrame(minFrame)
}

// abort stops the compression of an archive that failed; its output is
// abandoned.
func (f *frameWriter) abort() {
	f.z.Abort()
}

// Close writes the last frame and the seek table. It does not close w.
func (f *frameWriter) Close() error {
	if f.err != nil {
		return f.err
	}
	if f.err = f.z.Close(); f.err != nil {
		return f.err
	}
	table := appendSeekTable(nil, f.sizes)
	_, f.err = f.w.Write(table)
	if f.err == nil {
		f.err = errors.New("frame writer closed")
		return nil
	}
	return f.err
}

// appendSeekTable appends the seek table of frames of the given
// (compressed, decompressed) sizes to b: a skippable frame.
func appendSeekTable(b []byte, sizes [][2]uint32) []byte {
	b = binary.LittleEndian.AppendUint32(b, skippableSeekMagic)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(sizes)*seekEntrySize+seekFooterSize))
	for _, s := range sizes {
		b = binary.LittleEndian.AppendUint32(b, s[0])
		b = binary.LittleEndian.AppendUint32(b, s[1])
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(len(sizes)))
	b = append(b, 0) // descriptor: no checksums
	return binary.LittleEndian.AppendUint32(b, seekableMagic)
}

// readSeekTable reads the seek table at the end of a zstd stream of size
// bytes. It returns nil (and no error) when the stream has none (no
// seekable magic at its end): it is then read from its start. A table
// that is there but does not add up fails with ErrTampered.
func readSeekTable(r io.ReaderAt, size int64) ([]frame, error) {
	if size < seekFooterSize+8 {
		return nil, nil
	}
	var foot [seekFooterSize]byte
	if _, err := r.ReadAt(foot[:], size-seekFooterSize); err != nil {
		return nil, err
	}
	if binary.LittleEndian.Uint32(foot[5:]) != seekableMagic {
		return nil, nil
	}
	n := int64(binary.LittleEndian.Uint32(foot[0:]))
	entry := int64(seekEntrySize)
	if foot[4]&seekChecksumFlag != 0 {
		entry += 4
	}
	tableSize := n*entry + seekFooterSize
	start := size - tableSize - 8
	// The footer's magic says a seek table ends the stream: from here on,
	// one that does not add up is a damaged one, not an absent one.
	if n > maxSeekFrames || start < 0 {
		return nil, fmt.Errorf("%w: the zstd seek table at the end claims %d frames, more than the stream can hold", ErrTampered, n)
	}
	b := make([]byte, tableSize+8)
	if _, err := r.ReadAt(b, start); err != nil {
		return nil, err
	}
	if binary.LittleEndian.Uint32(b[0:]) != skippableSeekMagic || int64(binary.LittleEndian.Uint32(b[4:])) != tableSize {
		return nil, fmt.Errorf("%w: the zstd seek table at the end is not inside a skippable frame of its size", ErrTampered)
	}
	frames := make([]frame, 0, n)
	var c, d int64
	for i := int64(0); i < n; i++ {
		e := b[8+i*entry:]
		frames = append(frames, frame{c: c, d: d})
		c += int64(binary.LittleEndian.Uint32(e[0:]))
		d += int64(binary.LittleEndian.Uint32(e[4:]))
	}
	if c != start {
		return nil, fmt.Errorf("%w: zstd seek table covers %d bytes, the stream has %d", ErrTampered, c, start)
	}
	return frames, nil
}

// frameAt returns the index of the frame holding decompressed offset off.
func frameAt(frames []frame, off int64) int {
	return sort.Search(len(frames), func(i int) bool { return frames[i].d > off }) - 1
}
