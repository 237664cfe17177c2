package zstdframes_test

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/klauspost/compress/zstd"

	"github.com/ocipack/ocipack/internal/zstdframes"
)

// Compress a stream in 1 MiB frames on every CPU; any zstd decoder reads
// the result.
func Example() {
	var out bytes.Buffer
	z, err := zstdframes.NewWriter(&out, zstdframes.Options{FrameSize: 1 << 20})
	if err != nil {
		panic(err)
	}
	if _, err := io.Copy(z, strings.NewReader(strings.Repeat("hello, frames\n", 200000))); err != nil {
		panic(err)
	}
	if err := z.Close(); err != nil {
		panic(err)
	}
	d, _ := zstd.NewReader(&out)
	defer d.Close()
	n, _ := io.Copy(io.Discard, d)
	fmt.Println(n, "bytes back")
	// Output: 2800000 bytes back
}
