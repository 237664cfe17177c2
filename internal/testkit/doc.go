// Package testkit is ocipack's shared test support: the real parts tests run
// against and the fixtures and comparisons they would otherwise copy.
//
//   - StartRegistry: a real CNCF Distribution registry in the test process
//     on 127.0.0.1 (optionally with basic auth, TLS, or disk storage).
//   - StartProxy, NewProxy: a loopback reverse proxy that resets, stalls,
//     cuts or answers 500/429 on a seeded share of the requests.
//   - Snapshot, SameTree, CompareTrees: what a directory tree holds, and
//     whether two trees hold the same.
//   - RandomBytes, WriteRandomFile: incompressible content.
//   - WriteTree: the deterministic source-like tree of the benchmarks.
//   - Layout fixtures: IndexTags, BlobNames, FlipByte and friends read and
//     damage an OCI image layout directly from its files, so that tests of
//     every package check the store the same way.
//
// It is imported only by tests (and the benchmark data generator); no
// shipped code depends on it.
package testkit
