//go:build ignore

// conformance-helper is .ci/conformance's helper, run with
// `go run .ci/conformance-helper.go`; it is not part of ocipack.
//
//	referrer LAYOUT TAG REFTAG   store a manifest whose subject is TAG's
//	                             manifest, tagged REFTAG, and print the
//	                             OCI_RO_DATA_* variables (shell syntax) that
//	                             name the layout's tags, manifests, blobs and
//	                             the subject
//	init LAYOUT                  create an empty layout (what a writable
//	                             server starts from)
//	freeport                     print a free TCP port on 127.0.0.1
//	wait URL SECONDS             wait until URL answers HTTP (any status)
//	summary OUTPUT MODE          read the report the conformance suite printed
//	                             (its stdout), print
//	                             one line per category and exit 1 when a test
//	                             of MODE's categories failed or was skipped
//	                             (writable: pull, push, discovery,
//	                             management; readonly: pull, discovery)
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ocipack/ocipack/layout"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func main() {
	var err error
	switch {
	case len(os.Args) == 5 && os.Args[1] == "referrer":
		err = referrer(context.Background(), os.Args[2], os.Args[3], os.Args[4])
	case len(os.Args) == 3 && os.Args[1] == "init":
		var l *layout.Layout
		if l, err = layout.OpenOrCreate(context.Background(), os.Args[2]); err == nil {
			err = l.Close()
		}
	case len(os.Args) == 2 && os.Args[1] == "freeport":
		err = freePort()
	case len(os.Args) == 4 && os.Args[1] == "wait":
		err = waitHTTP(os.Args[2], os.Args[3])
	case len(os.Args) == 4 && os.Args[1] == "summary":
		var ok bool
		ok, err = summary(os.Args[2], os.Args[3])
		if err == nil && !ok {
			os.Exit(1)
		}
	default:
		err = fmt.Errorf("usage: conformance-helper init LAYOUT | freeport | wait URL SECONDS | referrer LAYOUT TAG REFTAG | summary OUTPUT writable|readonly")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "conformance-helper:", err)
		os.Exit(2)
	}
}

func freePort() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	return nil
}

func waitHTTP(url, secs string) error {
	n, err := strconv.Atoi(secs)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(time.Duration(n) * time.Second)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer within %s s: %w", url, secs, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func referrer(ctx context.Context, path, tag, refTag string) error {
	l, err := layout.Open(ctx, path)
	if err != nil {
		return err
	}
	defer l.Close()
	subject, err := l.Resolve(ctx, tag)
	if err != nil {
		return err
	}
	cfg, err := l.Ingest(ctx, ocispec.MediaTypeEmptyJSON, strings.NewReader("{}"))
	if err != nil {
		return err
	}
	sig, err := l.Ingest(ctx, "application/vnd.ocipack.conformance.signature", strings.NewReader("a signature of "+subject.Digest.String()+"\n"))
	if err != nil {
		return err
	}
	m := ocispec.Manifest{
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: "application/vnd.ocipack.conformance.signature",
		Config:       cfg,
		Layers:       []ocispec.Descriptor{sig},
		Subject:      &subject,
	}
	m.SchemaVersion = 2
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	desc := ocispec.Descriptor{MediaType: m.MediaType, ArtifactType: m.ArtifactType, Digest: digest.FromBytes(b), Size: int64(len(b))}
	if err := l.Push(ctx, desc, bytes.NewReader(b)); err != nil {
		return err
	}
	desc.Annotations = map[string]string{ocispec.AnnotationRefName: refTag}
	if err := l.Put(ctx, desc); err != nil {
		return err
	}

	// What the read-only suite is told exists: every tag, every manifest
	// and every blob they reach, and the subject that has a referrer.
	tags, err := l.Tags(ctx)
	if err != nil {
		return err
	}
	var tagNames, manifests []string
	blobs := map[string]bool{}
	for _, t := range tags {
		tagNames = append(tagNames, t.Tag)
		manifests = append(manifests, t.Descriptor.Digest.String())
		rc, err := l.Fetch(ctx, t.Descriptor)
		if err != nil {
			return err
		}
		var tm ocispec.Manifest
		err = json.NewDecoder(io.LimitReader(rc, 4<<20)).Decode(&tm)
		rc.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", t.Tag, err)
		}
		blobs[tm.Config.Digest.String()] = true
		for _, ly := range tm.Layers {
			blobs[ly.Digest.String()] = true
		}
	}
	var blobList []string
	for d := range blobs {
		blobList = append(blobList, d)
	}
	sort.Strings(blobList)
	fmt.Printf("OCI_RO_DATA_TAGS=%q\n", strings.Join(tagNames, " "))
	fmt.Printf("OCI_RO_DATA_MANIFESTS=%q\n", strings.Join(manifests, " "))
	fmt.Printf("OCI_RO_DATA_BLOBS=%q\n", strings.Join(blobList, " "))
	fmt.Printf("OCI_RO_DATA_REFERRERS=%q\n", subject.Digest.String())
	return nil
}

// category names the distribution-spec category a leaf test of the suite
// belongs to, from its last path element (the API it calls) and, for
// manifests, the step it runs in (push, pull, head).
func category(name string) string {
	parts := strings.Split(name, "/")
	leaf := parts[len(parts)-1]
	step := ""
	if len(parts) >= 2 {
		step = parts[len(parts)-2]
	}
	switch {
	case leaf == "ping", leaf == "blob-get", leaf == "blob-head", leaf == "get-missing",
		leaf == "manifest-get", leaf == "by-digest", leaf == "by-tag",
		strings.HasPrefix(leaf, "manifest-head-"), strings.HasPrefix(leaf, "range "):
		return "pull"
	case leaf == "manifest-by-digest" || leaf == "manifest-by-tag":
		if step == "push" {
			return "push"
		}
		return "pull"
	case strings.HasPrefix(leaf, "blob-post-"), strings.HasPrefix(leaf, "blob-patch-"),
		strings.HasPrefix(leaf, "blob-mount"), leaf == "manifest-put":
		return "push"
	case leaf == "tag-list", leaf == "tag list", leaf == "referrers":
		return "discovery"
	case leaf == "blob-delete", leaf == "manifest-delete", leaf == "tag-delete":
		return "management"
	}
	return "other"
}

type counts struct{ passed, failed, skipped, disabled int }

// node is one line of the tree the suite prints under "Test results": a
// test's full name, its depth, its status and the error lines after it.
type node struct {
	name, status string
	depth        int
	errs         []string
}

var (
	nodeLine  = regexp.MustCompile(`^( *)(OCI Conformance Test(?:/.*)?): (Pass|Skip|Disabled|FAIL|Error|Unknown)$`)
	countLine = regexp.MustCompile(`^  (Disabled|Skip|Pass|FAIL|Error|Total)\.*: +([0-9]+)$`)
)

// summary reads the report the suite prints on stdout. junit.xml would do
// too, but it says "skipped" both for a test the configuration disabled and
// for one the registry said it does not support, and with push off the
// suite panics after printing its report, before it writes any file.
func summary(path, mode string) (bool, error) {
	var asked []string
	switch mode {
	case "writable":
		asked = []string{"pull", "push", "discovery", "management"}
	case "readonly":
		asked = []string{"pull", "discovery"}
	default:
		return false, fmt.Errorf("unknown mode %q", mode)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	var nodes []*node
	suite := map[string]string{}
	inTree, inCounts := false, false
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case line == "Test results":
			inTree = true
			continue
		case strings.HasPrefix(line, "Configuration:"):
			inTree = false
		case strings.HasPrefix(line, "OCI Conformance Result: "):
			suite["Result"] = strings.TrimPrefix(line, "OCI Conformance Result: ")
			inCounts = true
			continue
		}
		if inCounts {
			if m := countLine.FindStringSubmatch(line); m != nil {
				suite[m[1]] = m[2]
				continue
			}
			inCounts = false
		}
		if !inTree {
			continue
		}
		if m := nodeLine.FindStringSubmatch(line); m != nil {
			nodes = append(nodes, &node{name: m[2], status: m[3], depth: len(m[1]) / 2})
		} else if len(nodes) > 0 && strings.TrimSpace(line) != "" {
			n := nodes[len(nodes)-1]
			n.errs = append(n.errs, strings.TrimPrefix(strings.TrimSpace(line), "- "))
		}
	}
	if len(nodes) == 0 || suite["Total"] == "" {
		return false, fmt.Errorf("%s: no test report (no \"Test results\" tree or no counts)", path)
	}
	byCat := map[string]*counts{}
	bad := map[string][]string{}
	cats := []string{"pull", "push", "discovery", "management", "other"}
	for _, c := range cats {
		byCat[c] = &counts{}
	}
	leaves := 0
	for i, n := range nodes {
		if i+1 < len(nodes) && nodes[i+1].depth > n.depth {
			continue // not a leaf: its status is its children's
		}
		leaves++
		cat := category(n.name)
		c := byCat[cat]
		short := strings.TrimPrefix(n.name, "OCI Conformance Test/")
		msg := ""
		if len(n.errs) > 0 {
			msg = ": " + firstLine(n.errs[0])
		}
		switch n.status {
		case "Pass":
			c.passed++
		case "Disabled":
			c.disabled++
		case "Skip":
			c.skipped++
			bad[cat] = append(bad[cat], "SKIP "+short+msg)
		default: // FAIL, Error, Unknown
			c.failed++
			bad[cat] = append(bad[cat], strings.ToUpper(n.status)+" "+short+msg)
		}
	}
	ok := true
	isAsked := map[string]bool{"other": true}
	for _, c := range asked {
		isAsked[c] = true
	}
	fmt.Printf("conformance %s: the suite says %s: %s passed of %s (FAIL %s, Error %s, Skip %s, Disabled %s); %d leaf tests:\n",
		mode, suite["Result"], suite["Pass"], suite["Total"], suite["FAIL"], suite["Error"], suite["Skip"], suite["Disabled"], leaves)
	for _, c := range cats {
		n := byCat[c]
		if c == "other" && n.passed+n.failed+n.skipped+n.disabled == 0 {
			continue
		}
		verdict := "not asked"
		if isAsked[c] {
			switch {
			case n.failed > 0 || n.skipped > 0:
				verdict = "FAIL"
				ok = false
			case c != "other" && n.passed == 0:
				verdict = "FAIL (nothing ran)"
				ok = false
			default:
				verdict = "ok"
			}
		}
		fmt.Printf("conformance %-11s passed %4d  failed %3d  skipped %3d  disabled %3d  %s\n", c+":", n.passed, n.failed, n.skipped, n.disabled, verdict)
	}
	for _, c := range cats {
		if !isAsked[c] {
			continue
		}
		for i, l := range bad[c] {
			if i == 20 {
				fmt.Printf("  %s: ... and %d more (see the suite's output)\n", c, len(bad[c])-i)
				break
			}
			fmt.Printf("  %s: %s\n", c, l)
		}
	}
	return ok, nil
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
