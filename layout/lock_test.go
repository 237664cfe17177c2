package layout_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
)

// helperEnv guards TestHelperProcess: set, it names the layout the helper
// tags into.
const helperEnv = "OCIPACK_LAYOUT_TEST_HELPER"

// TestHelperProcess is not a test: TestCrossProcessTagging runs the test
// binary with -test.run=TestHelperProcess as a child process that stores
// its own manifest and tags it with OCIPACK_HELPER_TAGS tags.
func TestHelperProcess(t *testing.T) {
	dir := os.Getenv(helperEnv)
	if dir == "" {
		return // the ordinary test run: nothing to do
	}
	id := os.Getenv("OCIPACK_HELPER_ID")
	n, err := strconv.Atoi(os.Getenv("OCIPACK_HELPER_TAGS"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "bad OCIPACK_HELPER_TAGS:", err)
		os.Exit(3)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	l, err := layout.OpenOrCreate(ctx, dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for i := range n {
		// A fresh manifest for every tag, so blobs are written concurrently
		// too.
		desc := testkit.StoreManifest(t, l, "application/x.helper", fmt.Sprintf("process %s tag %d", id, i))
		if err := l.Tag(ctx, desc, fmt.Sprintf("p%s-t%02d", id, i)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	os.Exit(0)
}

// TestCrossProcessTagging runs 4 processes that each tag 25 distinct tags
// into one layout at once: the lock must keep every tag.
func TestCrossProcessTagging(t *testing.T) {
	const procs, tagsEach = 4, 25
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "layout")
	// The layout is created by the children themselves, concurrently.

	var wg sync.WaitGroup
	errs := make([]error, procs)
	outs := make([][]byte, procs)
	start := make(chan struct{})
	for p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
			cmd.Env = append(os.Environ(),
				helperEnv+"="+dir,
				"OCIPACK_HELPER_ID="+strconv.Itoa(p),
				"OCIPACK_HELPER_TAGS="+strconv.Itoa(tagsEach),
			)
			<-start
			outs[p], errs[p] = cmd.CombinedOutput()
		}()
	}
	close(start)
	wg.Wait()
	for p := range procs {
		if errs[p] != nil {
			t.Errorf("process %d: %v\n%s", p, errs[p], outs[p])
		}
	}
	if ctx.Err() != nil {
		t.Fatalf("the processes did not finish in time: %v", ctx.Err())
	}
	if t.Failed() {
		t.FailNow()
	}

	b := testkit.ReadFile(t, filepath.Join(dir, "index.json"))
	var idx ocispec.Index
	if err := json.Unmarshal(b, &idx); err != nil {
		t.Fatalf("index.json is not valid JSON: %v", err)
	}
	if idx.SchemaVersion != 2 || idx.MediaType != ocispec.MediaTypeImageIndex {
		t.Errorf("index.json header: %+v", idx)
	}
	l := testkit.OpenLayout(t, dir)
	tags, err := l.Tags(ctx)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, tg := range tags {
		have[tg.Tag] = true
		if ok, err := l.Exists(ctx, tg.Descriptor); !ok || err != nil {
			t.Errorf("tag %s points at a missing manifest", tg.Tag)
		}
	}
	var missing []string
	for p := range procs {
		for i := range tagsEach {
			if tg := fmt.Sprintf("p%d-t%02d", p, i); !have[tg] {
				missing = append(missing, tg)
			}
		}
	}
	if len(missing) > 0 || len(tags) != procs*tagsEach {
		t.Errorf("%d tags, want %d; missing: %s", len(tags), procs*tagsEach, strings.Join(missing, " "))
	}
	// Every manifest resolves and is readable.
	for _, tg := range tags {
		if _, err := layout.ReadManifest(ctx, l, tg.Descriptor); err != nil {
			t.Errorf("tag %s: %v", tg.Tag, err)
		}
	}
	if tmp := testkit.TmpFiles(t, l.Path()); len(tmp) != 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
}

// TestConcurrentTaggingInProcess: goroutines tagging at once, half through a
// shared Layout and half through Layouts of their own, lose no tag.
func TestConcurrentTaggingInProcess(t *testing.T) {
	const workers, tagsEach = 8, 10
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	shared := testkit.NewLayout(t)
	desc := testkit.StoreManifest(t, shared, "application/x.test", "shared")
	var wg sync.WaitGroup
	errs := make(chan error, workers*tagsEach)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := shared
			if w%2 == 1 {
				var err error
				if l, err = layout.Open(ctx, shared.Path()); err != nil {
					errs <- err
					return
				}
			}
			for i := range tagsEach {
				if err := l.Tag(ctx, desc, fmt.Sprintf("w%d-%d", w, i)); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	tags, err := shared.Tags(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(tags) != workers*tagsEach {
		t.Errorf("%d tags, want %d", len(tags), workers*tagsEach)
	}
}
