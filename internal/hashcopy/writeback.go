package hashcopy

import (
	"io"
	"os"
)

// WriteBackInterval is how many bytes FileWriter lets accumulate before it
// asks the kernel to start writing them back to disk.
const WriteBackInterval = 32 << 20

// FileWriter writes to a file and, on Linux, every WriteBackInterval bytes
// asks the kernel to start writing the bytes written since the last time
// back to disk (sync_file_range with SYNC_FILE_RANGE_WRITE), without
// waiting for it. Write-back then runs while the copy goes on, instead of
// all of it in the final fsync. It makes nothing durable: the caller still
// calls f.Sync before it relies on the content. Elsewhere it only writes.
type FileWriter struct {
	f *os.File
	// off is the file offset after the last write; synced is where the
	// range not yet handed to write-back starts. Both are -1 when the
	// offset is unknown (write-back is then not started).
	off, synced int64
}

// NewFileWriter returns a FileWriter writing to f at its current offset.
func NewFileWriter(f *os.File) *FileWriter {
	off, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		off = -1
	}
	return &FileWriter{f: f, off: off, synced: off}
}

// Write implements io.Writer.
func (w *FileWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	if w.off < 0 {
		return n, err
	}
	w.off += int64(n)
	if w.off-w.synced >= WriteBackInterval {
		if startWriteBack(w.f, w.synced, w.off-w.synced) {
			w.synced = w.off
		} else {
			w.off, w.synced = -1, -1 // not supported here: stop trying
		}
	}
	return n, err
}
