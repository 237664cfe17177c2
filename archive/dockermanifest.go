package archive

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/graph"
	"github.com/ocipack/ocipack/layout"
)

// DockerManifestFile is the file `docker save` writes beside the OCI
// layout, and `docker load` reads: one entry per image, naming its config,
// its layers (paths in the archive) and its names.
const DockerManifestFile = "manifest.json"

// mediaTypeDockerConfig is the media type of a docker image config.
const mediaTypeDockerConfig = "application/vnd.docker.container.image.v1+json"

// DockerManifestEntry is one image of a docker manifest.json, as `docker
// save` writes it and `docker load` reads it.
type DockerManifestEntry struct {
	// Config is the path of the image config in the archive:
	// blobs/sha256/<hex>.
	Config string
	// RepoTags are the image's names (full names, such as
	// docker.io/library/nginx:1.27): each index.json name of the image that
	// is a full name with a tag, its digest dropped. An image named only
	// by a plain tag or a digest has none, and loads untagged.
	RepoTags []string
	// Layers are the paths of the image's layers in the archive, in order.
	Layers []string
}

// dockerManifest returns the manifest.json for the entries of idx that
// are images (an image manifest whose config is an OCI or docker image
// config), in index order, one entry per manifest with all its names; nil
// when there is none. An entry that is an index of one platform (a
// platform subset, say) is listed as its image, under the index's names,
// as containerd's export lists the child of an index it picked. It reads
// the manifests from l, but for those in images (the image manifests the
// plan read already: reading each again cost export 15% at 20,000 tags).
func dockerManifest(ctx context.Context, l Source, idx ocispec.Index, images map[digest.Digest]dockerImage) ([]byte, error) {
	var out []DockerManifestEntry
	at := map[string]int{} // manifest digest -> index in out
	for _, d := range idx.Manifests {
		name := d.Annotations[ocispec.AnnotationRefName]
		if name == "" {
			continue
		}
		if graph.IsIndex(d.MediaType) {
			one, err := onlyImage(ctx, l, d)
			if err != nil {
				return nil, err
			}
			if one == nil {
				continue // several platforms: docker load could not choose
			}
			d = *one
		}
		if d.MediaType != graph.MediaTypeOCIManifest && d.MediaType != graph.MediaTypeDockerManifest {
			continue
		}
		i, seen := at[d.Digest.String()]
		if !seen {
			m, read := images[d.Digest]
			if !read {
				b, err := layout.ReadBlob(ctx, l, d, layout.MaxManifestSize)
				if err != nil {
					return nil, fmt.Errorf("%s: manifest %s: %w", DockerManifestFile, d.Digest, err)
				}
				var om ocispec.Manifest
				if err := json.Unmarshal(b, &om); err != nil {
					return nil, fmt.Errorf("%s: manifest %s: %w: %v", DockerManifestFile, d.Digest, layout.ErrCorrupt, err)
				}
				m = dockerImage{config: om.Config, layers: om.Layers}
			}
			if m.config.MediaType != ocispec.MediaTypeImageConfig && m.config.MediaType != mediaTypeDockerConfig {
				continue // an artifact, not an image
			}
			e := DockerManifestEntry{Config: blobName(m.config.Digest), RepoTags: []string{}, Layers: []string{}}
			for _, layer := range m.layers {
				e.Layers = append(e.Layers, blobName(layer.Digest))
			}
			i = len(out)
			at[d.Digest.String()] = i
			out = append(out, e)
		}
		if t := repoTag(name); t != "" {
			out[i].RepoTags = append(out[i].RepoTags, t)
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return json.Marshal(out)
}

// onlyImage returns the one image manifest that the index d lists, not
// counting docker's attestation manifests and children of platform
// unknown; nil when it lists none or several.
func onlyImage(ctx context.Context, l Source, d ocispec.Descriptor) (*ocispec.Descriptor, error) {
	b, err := layout.ReadBlob(ctx, l, d, layout.MaxManifestSize)
	if err != nil {
		return nil, fmt.Errorf("%s: index %s: %w", DockerManifestFile, d.Digest, err)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("%s: index %s: %w: %v", DockerManifestFile, d.Digest, layout.ErrCorrupt, err)
	}
	var one *ocispec.Descriptor
	for i, c := range idx.Manifests {
		if c.MediaType != graph.MediaTypeOCIManifest && c.MediaType != graph.MediaTypeDockerManifest ||
			c.Annotations["vnd.docker.reference.type"] == "attestation-manifest" ||
			c.Platform != nil && c.Platform.OS == "unknown" {
			continue
		}
		if one != nil {
			return nil, nil
		}
		one = &idx.Manifests[i]
	}
	return one, nil
}

// repoTag returns name as docker load takes a RepoTag: a full name with a
// tag, without its digest; "" for any other name.
func repoTag(name string) string {
	if !layout.IsFullName(name) {
		return ""
	}
	named, err := reference.ParseNamed(name)
	if err != nil {
		return ""
	}
	if t, ok := named.(reference.NamedTagged); ok {
		return reference.TrimNamed(t).String() + ":" + t.Tag()
	}
	return ""
}
