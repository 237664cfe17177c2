// Package archive carries OCI image layouts across air gaps as single
// archive files, or as numbered volumes that fit size-limited media.
//
// Export writes tags of a layout (and everything they reach, and the
// referrers index.json lists for them) as one tar stream; Import adds an
// archive to a layout, all or nothing; Open reads an archive in place, as
// an oras.ReadOnlyTarget, so that unpack.Unpack or oras.Copy work on it
// without extracting it first. FreeSpace and CheckSpace guard every write
// against a full disk.
//
// # Archive format
//
// An archive is a tar (ustar; pax only for blobs of 8 GiB and more) of a
// valid OCI image layout, so `tar -xf` of it (after `zstd -d` for .tar.zst)
// gives a layout any OCI tool reads. Its entries come in this order, so
// that a reader can act on the small ones before the large ones arrive:
//
//	oci-layout              {"imageLayoutVersion":"1.0.0"}
//	ocipack-archive.json    the contents list (below)
//	index.json              the tags exported and the referrers of what they reach
//	manifest.json           docker's list of the images (see below), if any
//	blobs/, blobs/sha256/   directories (mode 0755)
//	blobs/sha256/<hex>      manifests, indexes and configs, in walk order,
//	                        then layers, in manifest order; each blob once
//
// Every entry has mode 0644 (directories 0755), uid and gid 0, no user or
// group names and mtime 0 (the Unix epoch), so the same layout and tags
// always give the same bytes.
//
// manifest.json is what `docker save` writes beside the layout and `docker
// load` reads (DockerManifestEntry): for each exported entry that is an
// image (an image manifest with an OCI or docker image config, or an
// index of one platform, such as an export with one --platform, listed as
// its image; not an index of several, not an artifact), its config and
// layers as blobs/sha256/<hex>
// paths and, as RepoTags, its full names with a tag. With index.json's
// io.containerd.image.name annotations (see layout.AnnotationImageName),
// `ctr images import` and `docker load` name the images by their full
// names. A delta (Since) writes none: its images cannot load alone.
//
// ocipack-archive.json lists the archive's contents:
//
//	{"mediaType":"application/vnd.ocipack.archive.contents.v1+json",
//	 "tags":["v1","v2"],
//	 "blobs":[{"digest":"sha256:…","size":1234}, …],     every blob it holds, in order
//	 "required":[{"digest":"sha256:…","size":99}, …]}    a delta only: blobs it left out
//
// Import reads it first: a size that is negative or above layout.MaxBlobSize is
// refused, a delta whose required blobs the target lacks fails with
// ErrIncompleteDelta, and a target without room for the listed blobs with
// ErrNoSpace, before anything is written; at the end, a listed blob that
// never came shows a truncated archive (ErrTruncated), and a blob that is
// not listed is refused (ErrTampered). The archive's ID is
// the sha256 of "ocipack-archive\n<digest of the contents list>\n
// <compression>\n<volume size>\n".
//
// # What every reader checks
//
// Import, Open (and so Check, and unpack or push of ARCHIVE:TAG) judge an
// archive by the same rules, so that none accepts what another refuses:
// each layout file and each blob comes once (a second index.json,
// oci-layout, contents list or blob entry fails with ErrDuplicateEntry,
// naming it); with a contents list, every blob entry is listed with its
// size and every listed blob is there; the tar ends with its
// end-of-archive marker (two zero blocks), so that a copy cut at an entry
// boundary fails with ErrTruncated rather than reading as a shorter
// archive; and a .tar.zst with a contents list ends with its seek table
// (below), so that a copy cut after a frame fails alike.
//
// # Compression
//
// A .tar.zst archive is the same tar compressed with zstd in Zstandard's
// seekable format: independent frames of at most 4 MiB of tar each (a new
// frame starts before an entry once the current one holds 256 KiB), then a
// skippable frame (magic 0x184D2A5E) holding the seek table: each frame's
// compressed and decompressed size (4 bytes each, little-endian), the
// frame count (4 bytes), a descriptor byte (0: no checksums) and the magic
// 0x8F92EAB1. `zstd -d` ignores the table; Open uses it to decompress a
// blob from the frame holding it. Frames carry zstd's content checksum.
//
// # Volumes
//
// With ExportOptions.Split, the archive's byte stream (the tar, or the
// .tar.zst stream) is cut into chunks, each stored after a header as
// NAME.001, NAME.002, …: every file is at most Split bytes. The header is
// 512 bytes: a JSON object padded with spaces, the last byte a newline:
//
//	{"ocipackVolume":1,"archive":"sha256:<archive ID>","volume":2,"volumes":3,
//	 "size":<payload bytes>,"digest":"sha256:<digest of the payload>"}
//
// So each volume can be checked on its own (Verify), and Import and Open
// tell a missing volume (ErrMissingVolume, naming it), a volume of another
// archive (ErrForeignVolume), a cut volume (ErrTruncated) and a damaged
// one (ErrTampered) apart before or while reading, whatever order the
// volumes are given in. Without ocipack, the payloads concatenated are the
// archive:
//
//	for f in NAME.[0-9][0-9][0-9]; do tail -c +513 "$f"; done > NAME
//
// # Delta archives
//
// ExportOptions.Since (from DigestsOfLayout or DigestsOfArchive of what
// the receiving side holds) leaves out the blobs it names and lists them
// as required. Importing the delta into a layout that holds them completes
// every tag; anywhere else it fails with ErrIncompleteDelta naming the
// missing digests, and the target is left as it was.
//
// # Other archives
//
// Import and Open also read plain tars of a layout, uncompressed, gzip or
// zstd: `tar -cf x.tar -C dir .` (entries "./blobs/…"), `oras backup
// --output x.tar` (index.json after the blobs) or a tar of the directory
// itself (entries under one top directory). Entry names that are absolute
// or hold "..", links, devices, fifos and sparse files are refused with
// ErrUnsafeEntry; entries outside the layout are ignored.
package archive
