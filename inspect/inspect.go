// Package inspect describes what a layout or an archive holds, over any
// read-only target that lists its index.json (a *layout.Layout, a
// source.Source opened on a layout directory, a .tar, a .tar.zst or split
// volumes): Summaries is what `ocipack ls` lists, Describe what `ocipack
// inspect` shows.
package inspect

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/ocipack/ocipack/graph"
	"github.com/ocipack/ocipack/layout"
)

// Target is what inspect reads: blobs, references, and the index.json that
// lists the tags and untagged entries. *layout.Layout and *source.Source
// implement it.
type Target interface {
	content.Fetcher
	content.Resolver
	// Index returns the target's index.json.
	Index(ctx context.Context) (*ocispec.Index, error)
}

// ManifestSource is what Describe reads: references and manifests. A
// Target is one, and so is a registry repository.
type ManifestSource interface {
	content.Fetcher
	content.Resolver
}

// entry is one entry of index.json: a tag ("" for none) and its descriptor.
type entry struct {
	Tag        string
	Descriptor ocispec.Descriptor
}

// sortDescriptors sorts index.json's entries by tag, then by digest, as a
// layout writes them.
func sortDescriptors(ds []ocispec.Descriptor) {
	slices.SortStableFunc(ds, func(a, b ocispec.Descriptor) int {
		if c := strings.Compare(a.Annotations[ocispec.AnnotationRefName], b.Annotations[ocispec.AnnotationRefName]); c != 0 {
			return c
		}
		return strings.Compare(string(a.Digest), string(b.Digest))
	})
}

// Inspection describes one artifact: what `ocipack inspect SOURCE:TAG`
// shows.
type Inspection struct {
	// Reference is the tag or digest inspected, as given.
	Reference string `json:"reference"`
	// Digest is the manifest's digest.
	Digest digest.Digest `json:"digest"`
	// MediaType is the manifest's media type.
	MediaType string `json:"mediaType"`
	// ArtifactType is the manifest's artifactType or, when it has none, its
	// config's media type (as image-spec v1.1 says to read it).
	ArtifactType string `json:"artifactType,omitempty"`
	// Created is the org.opencontainers.image.created annotation.
	Created string `json:"created,omitempty"`
	// Annotations are the manifest's annotations.
	Annotations map[string]string `json:"annotations,omitempty"`
	// Config is the manifest's config (zero for an image index).
	Config ocispec.Descriptor `json:"config"`
	// Files are the manifest's layers, in order.
	Files []InspectedFile `json:"files"`
	// Manifests are the manifests an image index lists (nil for a
	// manifest).
	Manifests []ocispec.Descriptor `json:"manifests,omitempty"`
	// Platforms are the platforms of the manifests an image index lists,
	// one for each, in its order (nil for a manifest).
	Platforms []PlatformEntry `json:"platforms,omitempty"`
	// Size is the size of the manifest, its config and its layers; for an
	// image index, of the index and the manifests it lists (not their
	// blobs).
	Size int64 `json:"size"`
	// Subject is the manifest this one refers to, if it is a referrer.
	Subject *ocispec.Descriptor `json:"subject,omitempty"`
}

// InspectedFile is one layer of an inspected manifest.
type InspectedFile struct {
	// Title is the org.opencontainers.image.title annotation: the file or
	// directory name ("" for a layer without one, such as an image's).
	Title string `json:"title"`
	// MediaType is the layer's media type.
	MediaType string `json:"mediaType"`
	// Size is the layer's size, as stored (compressed).
	Size int64 `json:"size"`
	// Digest is the layer's digest.
	Digest digest.Digest `json:"digest"`
	// Dir says that the layer is a directory's archive (the
	// io.deis.oras.content.unpack annotation is "true").
	Dir bool `json:"dir,omitempty"`
	// Mode is a file's permission bits in octal ("0644"), when packed with
	// them.
	Mode string `json:"mode,omitempty"`
	// Annotations are all of the layer's annotations.
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Describe describes the artifact ref names in t: a tag, or the digest of
// a manifest or image index t holds. The manifest is read and verified
// against its digest; its blobs are not read. It fails with
// layout.ErrNotFound when there is no such tag or manifest, and
// layout.ErrCorrupt when the manifest does not parse.
//
// t needs no index.json: a registry repository (oras-go's
// remote.Repository) is described by fetching its manifest alone.
func Describe(ctx context.Context, t ManifestSource, ref string) (*Inspection, error) {
	desc, err := t.Resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	b, err := layout.ReadBlob(ctx, t, desc, layout.MaxManifestSize)
	if err != nil {
		return nil, fmt.Errorf("inspect %s: %w", ref, err)
	}
	doc, err := graph.Decode(desc, b)
	if err != nil {
		return nil, fmt.Errorf("inspect %s: manifest %s: %w: %w", ref, desc.Digest, layout.ErrCorrupt, err)
	}
	in := &Inspection{
		Reference:    ref,
		Digest:       desc.Digest,
		MediaType:    desc.MediaType,
		ArtifactType: doc.ArtifactType,
		Created:      doc.Annotations[ocispec.AnnotationCreated],
		Annotations:  doc.Annotations,
		Files:        []InspectedFile{},
		Size:         desc.Size,
		Subject:      doc.Subject,
	}
	if in.MediaType == "" {
		in.MediaType = doc.MediaType
	}
	if in.ArtifactType == "" {
		in.ArtifactType = desc.ArtifactType
	}
	switch doc.Kind {
	case graph.KindImage:
		in.Config = *doc.Config
		if in.ArtifactType == "" {
			in.ArtifactType = doc.Config.MediaType
		}
		in.Size += doc.Config.Size
		for _, d := range doc.Layers {
			in.Size += d.Size
			in.Files = append(in.Files, InspectedFile{
				Title:       d.Annotations[ocispec.AnnotationTitle],
				MediaType:   d.MediaType,
				Size:        d.Size,
				Digest:      d.Digest,
				Dir:         d.Annotations[layout.AnnotationUnpack] == "true",
				Mode:        d.Annotations[layout.AnnotationFileMode],
				Annotations: d.Annotations,
			})
		}
	case graph.KindIndex:
		in.Manifests = doc.Manifests
		for _, d := range doc.Manifests {
			in.Size += d.Size
			in.Platforms = append(in.Platforms, platformEntry(d))
		}
	case graph.KindArtifact:
		for _, d := range doc.Blobs {
			in.Size += d.Size
			in.Files = append(in.Files, InspectedFile{
				Title: d.Annotations[ocispec.AnnotationTitle], MediaType: d.MediaType, Size: d.Size, Digest: d.Digest,
				Dir: d.Annotations[layout.AnnotationUnpack] == "true", Mode: d.Annotations[layout.AnnotationFileMode], Annotations: d.Annotations,
			})
		}
	}
	return in, nil
}

// Summary is one entry of a layout's (or an archive's) index.json, as
// `ocipack ls` lists it: a tag, or a
// manifest that index.json lists without a tag (as `crane pull
// --format=oci` writes them).
type Summary struct {
	// Tag is the tag; "" for an untagged entry, which Digest names.
	Tag string `json:"tag"`
	// Digest is the digest of the manifest it points at.
	Digest digest.Digest `json:"digest"`
	// MediaType is the manifest's media type.
	MediaType string `json:"mediaType"`
	// ArtifactType is the manifest's artifactType or, when it has none, its
	// config's media type.
	ArtifactType string `json:"artifactType,omitempty"`
	// Size is the size of the manifest, its config and its layers; for an
	// image index, of the index alone.
	Size int64 `json:"size"`
	// Created is the manifest's org.opencontainers.image.created
	// annotation.
	Created string `json:"created,omitempty"`
	// Files is how many layers the manifest has.
	Files int `json:"files"`
	// Error says why the manifest could not be read ("" when it could);
	// the other fields then come from index.json alone.
	Error string `json:"error,omitempty"`
	// subject is whether the manifest has a subject (it is a referrer).
	subject bool
}

// Summaries describes every tag of t, sorted by tag, followed by the
// manifests its index.json lists without a tag (sorted by digest), except
// referrers (manifests with a subject, which a layout keeps listed
// untagged so that they stay reachable: they belong to their subject). It
// reads each manifest once (verified against its digest), several at a
// time, so that it stays fast for layouts of many thousand tags. A
// manifest that cannot be read does not fail the whole list: its Summary
// has Error set. Summaries fails only when index.json cannot be read or
// ctx is done.
func Summaries(ctx context.Context, t Target) ([]Summary, error) {
	idx, err := t.Index(ctx)
	if err != nil {
		return nil, err
	}
	sortDescriptors(idx.Manifests)
	var tags, untagged []entry
	tagged := map[digest.Digest]bool{}
	for _, d := range idx.Manifests {
		if t := d.Annotations[ocispec.AnnotationRefName]; t != "" {
			tags = append(tags, entry{Tag: t, Descriptor: d})
			tagged[d.Digest] = true
		}
	}
	seen := map[digest.Digest]bool{}
	for _, d := range idx.Manifests {
		if d.Annotations[ocispec.AnnotationRefName] == "" && !tagged[d.Digest] && !seen[d.Digest] {
			seen[d.Digest] = true
			untagged = append(untagged, entry{Descriptor: d})
		}
	}
	tags = append(tags, untagged...)
	// One job per distinct manifest.
	type job struct {
		desc ocispec.Descriptor
		sum  Summary // the fields that come from the manifest
	}
	jobs := map[digest.Digest]*job{}
	var order []*job
	for _, t := range tags {
		if jobs[t.Descriptor.Digest] == nil {
			j := &job{desc: t.Descriptor}
			jobs[t.Descriptor.Digest] = j
			order = append(order, j)
		}
	}
	// Reading is mostly system calls: a few more workers than CPUs.
	workers := min(2*runtime.GOMAXPROCS(0), 16, len(order))
	var wg sync.WaitGroup
	next := make(chan *job)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []byte
			for j := range next {
				j.sum = summarize(ctx, t, j.desc, &buf)
			}
		}()
	}
	for _, j := range order {
		if ctx.Err() != nil {
			break
		}
		next <- j
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make([]Summary, 0, len(tags))
	for _, t := range tags {
		s := jobs[t.Descriptor.Digest].sum
		if t.Tag == "" && s.subject {
			continue // a referrer, listed only to keep it reachable
		}
		s.Tag = t.Tag
		if s.Created == "" {
			s.Created = t.Descriptor.Annotations[ocispec.AnnotationCreated]
		}
		out = append(out, s)
	}
	return out, nil
}

// summarize reads the manifest desc describes for Summaries.
func summarize(ctx context.Context, t Target, desc ocispec.Descriptor, buf *[]byte) Summary {
	s := Summary{Digest: desc.Digest, MediaType: desc.MediaType, ArtifactType: desc.ArtifactType, Size: desc.Size}
	if desc.MediaType != "" && !graph.IsManifest(desc.MediaType) {
		return s // not a manifest: nothing more to tell
	}
	b, err := readSmall(ctx, t, desc, buf)
	if err != nil {
		s.Error = err.Error()
		return s
	}
	// Only what a summary needs, so that the decoder allocates little.
	var doc struct {
		SchemaVersion int    `json:"schemaVersion"`
		MediaType     string `json:"mediaType"`
		ArtifactType  string `json:"artifactType"`
		Config        *struct {
			MediaType string `json:"mediaType"`
			Size      int64  `json:"size"`
		} `json:"config"`
		Layers []struct {
			Size int64 `json:"size"`
		} `json:"layers"`
		Blobs []struct {
			Size int64 `json:"size"`
		} `json:"blobs"`
		Manifests   json.RawMessage `json:"manifests"`
		Subject     json.RawMessage `json:"subject"`
		Annotations struct {
			Created string `json:"org.opencontainers.image.created"`
		} `json:"annotations"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		s.Error = fmt.Sprintf("manifest %s: %v: not a valid manifest: %v", desc.Digest, layout.ErrCorrupt, err)
		return s
	}
	mt := desc.MediaType
	if mt == "" {
		mt = doc.MediaType
		s.MediaType = mt
	}
	cls := graph.KindFor(mt, doc.Manifests != nil, doc.Config != nil)
	if doc.ArtifactType != "" {
		s.ArtifactType = doc.ArtifactType
	}
	s.Created = doc.Annotations.Created
	s.subject = len(doc.Subject) > 0 && string(doc.Subject) != "null"
	switch cls {
	case graph.KindImage:
		if doc.Config == nil {
			s.Error = fmt.Sprintf("manifest %s: %v: an image manifest without a config", desc.Digest, layout.ErrCorrupt)
			return s
		}
		if s.ArtifactType == "" {
			s.ArtifactType = doc.Config.MediaType
		}
		s.Size += doc.Config.Size
		for _, d := range doc.Layers {
			s.Size += d.Size
		}
		s.Files = len(doc.Layers)
	case graph.KindArtifact:
		for _, d := range doc.Blobs {
			s.Size += d.Size
		}
		s.Files = len(doc.Blobs)
	}
	return s
}

// readSmall reads the manifest desc describes, at most
// layout.MaxManifestSize bytes, verified against its digest, into *buf,
// which is reused and grown as needed (Summaries reads thousands of
// manifests).
func readSmall(ctx context.Context, t Target, desc ocispec.Descriptor, buf *[]byte) ([]byte, error) {
	if err := graph.ValidateDigest(desc.Digest); err != nil {
		return nil, fmt.Errorf("blob %q: %w", desc.Digest, err)
	}
	if desc.Size < 0 || desc.Size > layout.MaxManifestSize {
		return nil, fmt.Errorf("blob %s: %w: %d bytes is more than the %d allowed for it", desc.Digest, layout.ErrSizeMismatch, desc.Size, layout.MaxManifestSize)
	}
	rc, err := t.Fetch(ctx, desc)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	if int64(cap(*buf)) < desc.Size+1 {
		*buf = make([]byte, desc.Size+1, max(desc.Size+1, 4096))
	}
	b := (*buf)[:desc.Size+1]
	n, err := io.ReadFull(rc, b)
	switch {
	case err == nil:
		return nil, fmt.Errorf("blob %s: %w: more than the %d bytes the descriptor says", desc.Digest, layout.ErrSizeMismatch, desc.Size)
	case int64(n) != desc.Size:
		return nil, fmt.Errorf("blob %s: %w: %v", desc.Digest, layout.ErrSizeMismatch, err)
	}
	b = b[:n]
	if got := desc.Digest.Algorithm().FromBytes(b); got != desc.Digest {
		return nil, fmt.Errorf("blob %s: %w: content hashes to %s", desc.Digest, layout.ErrDigestMismatch, got)
	}
	return b, nil
}

// PlatformEntry is one child of an image index: its platform, digest and
// size.
type PlatformEntry struct {
	// Platform is "os/arch[/variant]" as the index states it, "unknown"
	// when it states none, and "attestation of DIGEST" for a Docker
	// attestation manifest (buildx's SBOM and provenance).
	Platform string `json:"platform"`
	// Digest is the child manifest's digest.
	Digest digest.Digest `json:"digest"`
	// Size is the child manifest's size (not its blobs').
	Size int64 `json:"size"`
	// MediaType is the child's media type.
	MediaType string `json:"mediaType"`
}

func platformEntry(d ocispec.Descriptor) PlatformEntry {
	e := PlatformEntry{Platform: "unknown", Digest: d.Digest, Size: d.Size, MediaType: d.MediaType}
	switch {
	case d.Annotations["vnd.docker.reference.type"] == "attestation-manifest":
		e.Platform = "attestation of " + d.Annotations["vnd.docker.reference.digest"]
	case d.Platform != nil:
		e.Platform = graph.FormatPlatform(*d.Platform)
	}
	return e
}
