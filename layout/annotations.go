package layout

// Annotations that pack writes and unpack reads. The io.deis.oras.* ones are
// the keys oras uses for directories, so `oras pull` restores what ocipack
// packs and ocipack unpacks what `oras push` packs.
const (
	// AnnotationContentDigest is the digest of a directory layer's
	// uncompressed tar.
	AnnotationContentDigest = "io.deis.oras.content.digest"
	// AnnotationUnpack marks a layer that is a tar of a directory, to be
	// extracted under its title ("true").
	AnnotationUnpack = "io.deis.oras.content.unpack"
	// AnnotationFileMode holds a regular file's permission bits in octal
	// ("0755"), so that unpack restores the executable bit.
	AnnotationFileMode = "io.ocipack.file.mode"
)
