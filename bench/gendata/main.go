// Command gendata makes the data and does the small chores of the benchmark
// harness bench/run. It is not part of ocipack. Everything it generates is
// deterministic: the same arguments give the same bytes on any machine.
//
//	gendata random -o FILE -size BYTES [-seed N]   pseudo-random bytes (ChaCha8)
//	gendata tree -o DIR [-files N] [-seed N]        a source-tree-like directory
//	gendata small -o DIR [-n N] [-seed N]           N small text files (2-6 KB)
//	gendata tags -layout DIR [-n N]                 rewrite index.json with N tags
//	gendata layout -o DIR [-blobs N] [-tags T]      a layout of about N small blobs, T tags
//	gendata freeport                                print a free TCP port on 127.0.0.1
//	gendata wait-http -url URL [-timeout D]         wait until URL answers
//	gendata quiet [-max F] [-interval D] [-timeout D] wait until the CPUs are idle
package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "random":
		err = cmdRandom(os.Args[2:])
	case "tree":
		err = cmdTree(os.Args[2:])
	case "small":
		err = cmdSmall(os.Args[2:])
	case "tags":
		err = cmdTags(os.Args[2:])
	case "layout":
		err = cmdLayout(os.Args[2:])
	case "freeport":
		err = cmdFreePort()
	case "wait-http":
		err = cmdWaitHTTP(os.Args[2:])
	case "quiet":
		err = cmdQuiet(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "gendata %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: gendata random|tree|small|tags|layout|freeport|wait-http|quiet [flags]")
	os.Exit(2)
}

// fixedTime is the mtime of every generated file and directory.
var fixedTime = time.Unix(1700000000, 0)

func seed32(n uint64) [32]byte {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], n)
	copy(s[8:], "ocipack-bench-gendata")
	return s
}

// cmdRandom writes -size pseudo-random bytes (ChaCha8: several GB/s, no
// /dev/urandom) to -o.
func cmdRandom(args []string) error {
	fs := flag.NewFlagSet("random", flag.ExitOnError)
	out := fs.String("o", "", "output file")
	size := fs.Int64("size", 0, "bytes")
	seed := fs.Uint64("seed", 1, "seed")
	fs.Parse(args)
	if *out == "" || *size <= 0 {
		return fmt.Errorf("need -o and -size")
	}
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	rng := rand.NewChaCha8(seed32(*seed))
	if _, err := io.CopyBuffer(f, io.LimitReader(rng, *size), make([]byte, 4<<20)); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// vocabulary of the text-like content: source code and prose tokens.
var vocabulary = strings.Fields(`
func return if else for range switch case default break continue go defer
select chan map struct interface type var const package import nil true false
err error string int int64 uint8 byte bool float64 context ctx Context fmt
Errorf Sprintf Println os Open Close Read Write Stat path filepath Join Base
Dir strings Split HasPrefix TrimSpace bytes Buffer io Reader Writer Copy EOF
json Marshal Unmarshal http Request Response Handler ServeHTTP sync Mutex Lock
Unlock WaitGroup Add Done Wait time Now Duration Second digest Digest Layout
Manifest Descriptor MediaType Size Annotations blob blobs index tag tags layer
layers config name value key values result results options opts input output
buf n i j k len cap make append new copy delete panic recover t testing T
the a an of to in is it that this with as by on be are was from at or which
file files directory tree pack unpack archive registry push pull store read
write check verify hash sum total count first last next previous current
client server request response status header body content length offset
begin end start stop run test bench example data item list set get put
`)

var punct = []string{" ", " ", " ", " ", " ", ", ", ". ", "(", ") ", " := ", " = ", "{ ", "} ", "; ", ".", " == ", " != ", "[", "] ", " // "}

// textWriter writes text-like, compressible content.
type textWriter struct {
	rng *rand.Rand
	w   *bufio.Writer
}

func (t *textWriter) write(size int) {
	written := 0
	indent := 0
	var prev []byte
	line := make([]byte, 0, 256)
	for written < size {
		line = line[:0]
		if prev != nil && t.rng.IntN(8) == 0 {
			// Source code repeats itself.
			line = append(line, prev...)
		} else {
			switch t.rng.IntN(6) {
			case 0:
				if indent > 0 {
					indent--
				}
			case 1:
				if indent < 6 {
					indent++
				}
			}
			for range indent {
				line = append(line, '\t')
			}
			words := 2 + t.rng.IntN(10)
			for w := range words {
				if t.rng.IntN(12) == 0 {
					line = fmt.Appendf(line, "%d", t.rng.IntN(4096))
				} else {
					line = append(line, vocabulary[t.rng.IntN(len(vocabulary))]...)
				}
				if w < words-1 {
					line = append(line, punct[t.rng.IntN(len(punct))]...)
				}
			}
			line = append(line, '\n')
			prev = append(prev[:0], line...)
		}
		if written+len(line) > size {
			line = line[:size-written]
		}
		t.w.Write(line)
		written += len(line)
	}
}

var extensions = []string{".go", ".go", ".go", ".md", ".json", ".yaml", ".txt", ".c", ".h", ".js", ".html", ".sh"}

// fileSize draws a size between 200 B and 200 KB: mostly small files, some
// medium, a few large (mean about 14.5 KB).
func fileSize(rng *rand.Rand) int {
	logUniform := func(lo, hi float64) int {
		return int(lo * math.Pow(hi/lo, rng.Float64()))
	}
	switch p := rng.IntN(100); {
	case p < 70:
		return logUniform(200, 8192)
	case p < 95:
		return logUniform(8192, 65536)
	default:
		return logUniform(65536, 204800)
	}
}

// cmdTree writes a source-tree-like directory: -files text files of mixed
// sizes in nested directories up to 4 levels deep.
func cmdTree(args []string) error {
	fs := flag.NewFlagSet("tree", flag.ExitOnError)
	out := fs.String("o", "", "output directory (must not exist)")
	files := fs.Int("files", 10000, "number of files")
	seed := fs.Uint64("seed", 1, "seed")
	fs.Parse(args)
	if *out == "" {
		return fmt.Errorf("need -o")
	}
	if _, err := os.Stat(*out); err == nil {
		return fmt.Errorf("%s exists", *out)
	}
	rng := rand.New(rand.NewChaCha8(seed32(*seed)))
	word := func() string { return vocabulary[rng.IntN(len(vocabulary))] }

	// Directories: 8 top-level, each with 3-6 children, down to depth 4.
	dirs := []string{"."}
	var grow func(parent string, depth int)
	grow = func(parent string, depth int) {
		if depth > 4 {
			return
		}
		n := 3 + rng.IntN(4)
		if depth == 1 {
			n = 8
		}
		if depth == 4 {
			n = rng.IntN(3)
		}
		seen := map[string]bool{}
		for range n {
			name := strings.ToLower(word())
			if seen[name] {
				name = fmt.Sprintf("%s%d", name, len(seen))
			}
			seen[name] = true
			d := filepath.Join(parent, name)
			dirs = append(dirs, d)
			grow(d, depth+1)
		}
	}
	grow(".", 1)
	for _, d := range dirs {
		if err := os.MkdirAll(filepath.Join(*out, d), 0o755); err != nil {
			return err
		}
	}

	var total int64
	bw := bufio.NewWriterSize(nil, 64<<10)
	tw := &textWriter{rng: rng, w: bw}
	for i := range *files {
		d := dirs[rng.IntN(len(dirs))]
		ext := extensions[rng.IntN(len(extensions))]
		name := filepath.Join(*out, d, fmt.Sprintf("%s_%05d%s", strings.ToLower(word()), i, ext))
		mode := os.FileMode(0o644)
		if ext == ".sh" {
			mode = 0o755
		}
		var size int
		err := writeFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode, bw, func() {
			size = fileSize(rng)
			tw.write(size)
		})
		if err != nil {
			return err
		}
		if err := os.Chtimes(name, fixedTime, fixedTime); err != nil {
			return err
		}
		total += int64(size)
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := os.Chtimes(filepath.Join(*out, dirs[i]), fixedTime, fixedTime); err != nil {
			return err
		}
	}
	fmt.Printf("%d files, %d directories, %d bytes\n", *files, len(dirs), total)
	return nil
}

// cmdSmall writes -n small text files (2-6 KB), each different.
func cmdSmall(args []string) error {
	fs := flag.NewFlagSet("small", flag.ExitOnError)
	out := fs.String("o", "", "output directory")
	n := fs.Int("n", 200, "number of files")
	seed := fs.Uint64("seed", 2, "seed")
	fs.Parse(args)
	if *out == "" {
		return fmt.Errorf("need -o")
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	rng := rand.New(rand.NewChaCha8(seed32(*seed)))
	bw := bufio.NewWriterSize(nil, 64<<10)
	tw := &textWriter{rng: rng, w: bw}
	for i := range *n {
		name := filepath.Join(*out, fmt.Sprintf("art-%03d.txt", i))
		err := writeFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o666, bw, func() {
			fmt.Fprintf(bw, "artifact %d\n", i)
			tw.write(2048 + rng.IntN(4096))
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// writeFile opens name with flag and mode (as os.OpenFile does) and writes
// there, through bw, what write writes to bw.
func writeFile(name string, flag int, mode os.FileMode, bw *bufio.Writer, write func()) error {
	f, err := os.OpenFile(name, flag, mode)
	if err != nil {
		return err
	}
	bw.Reset(f)
	write()
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// cmdTags rewrites a layout's index.json so that -n tags (t00000, t00001,
// ...) point at the manifest of its first entry, sorted as ocipack writes
// them.
func cmdTags(args []string) error {
	fs := flag.NewFlagSet("tags", flag.ExitOnError)
	dir := fs.String("layout", "", "layout directory")
	n := fs.Int("n", 10000, "number of tags")
	fs.Parse(args)
	p := filepath.Join(*dir, "index.json")
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	var idx map[string]any
	if err := json.Unmarshal(b, &idx); err != nil {
		return err
	}
	ms, _ := idx["manifests"].([]any)
	if len(ms) == 0 {
		return fmt.Errorf("%s has no manifest", p)
	}
	first, _ := ms[0].(map[string]any)
	out := make([]any, 0, *n)
	for i := range *n {
		d := map[string]any{}
		for k, v := range first {
			d[k] = v
		}
		ann := map[string]any{}
		if a, ok := first["annotations"].(map[string]any); ok {
			for k, v := range a {
				ann[k] = v
			}
		}
		ann["org.opencontainers.image.ref.name"] = fmt.Sprintf("t%05d", i)
		d["annotations"] = ann
		out = append(out, d)
	}
	sort.SliceStable(out, func(i, j int) bool {
		ti := out[i].(map[string]any)["annotations"].(map[string]any)["org.opencontainers.image.ref.name"].(string)
		tj := out[j].(map[string]any)["annotations"].(map[string]any)["org.opencontainers.image.ref.name"].(string)
		return ti < tj
	})
	idx["manifests"] = out
	nb, err := json.Marshal(idx)
	if err != nil {
		return err
	}
	tmp := p + ".gendata"
	if err := os.WriteFile(tmp, nb, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

func cmdFreePort() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	return nil
}

// cmdWaitHTTP polls -url until it answers with any HTTP status.
func cmdWaitHTTP(args []string) error {
	fs := flag.NewFlagSet("wait-http", flag.ExitOnError)
	url := fs.String("url", "", "URL")
	timeout := fs.Duration("timeout", 30*time.Second, "how long to wait")
	fs.Parse(args)
	deadline := time.Now().Add(*timeout)
	c := &http.Client{Timeout: 2 * time.Second}
	var last error
	for time.Now().Before(deadline) {
		resp, err := c.Get(*url)
		if err == nil {
			resp.Body.Close()
			fmt.Printf("%s answered %s\n", *url, resp.Status)
			return nil
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s did not answer within %s: %v", *url, *timeout, last)
}

// cpuTimes reads the busy and total jiffies of all CPUs from /proc/stat.
func cpuTimes() (busy, total uint64, ok bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0, 0, false
	}
	var v [8]uint64
	for i := range v {
		fmt.Sscan(f[i+1], &v[i])
	}
	// user nice system idle iowait irq softirq steal
	busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7]
	return busy, busy + v[3] + v[4], true
}

// cmdQuiet waits, at least one -interval and at most -timeout, until the
// CPUs were busy at most -max of the time over one -interval (other
// processes' work: the harness itself is idle meanwhile). It prints the
// busy fraction of the last interval and "quiet" or "busy". Where there is
// no /proc/stat it only sleeps one interval.
func cmdQuiet(args []string) error {
	fs := flag.NewFlagSet("quiet", flag.ExitOnError)
	maxBusy := fs.Float64("max", 0.25, "largest busy fraction that counts as quiet")
	interval := fs.Duration("interval", time.Second, "sampling interval")
	timeout := fs.Duration("timeout", time.Minute, "longest wait")
	fs.Parse(args)
	start := time.Now()
	for {
		b0, t0, ok := cpuTimes()
		time.Sleep(*interval)
		b1, t1, ok1 := cpuTimes()
		if !ok || !ok1 || t1 == t0 {
			fmt.Println("0.00 unknown")
			return nil
		}
		frac := float64(b1-b0) / float64(t1-t0)
		if frac <= *maxBusy {
			fmt.Printf("%.2f quiet\n", frac)
			return nil
		}
		if time.Since(start) >= *timeout {
			fmt.Printf("%.2f busy\n", frac)
			return nil
		}
	}
}
