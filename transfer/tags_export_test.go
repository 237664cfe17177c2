package transfer

import "testing"

// SetTagListPageSize makes tag listings ask the registry for pages of n
// tags until t ends, so that a test sees a listing paginate.
func SetTagListPageSize(t testing.TB, n int) {
	old := tagListPageSize
	tagListPageSize = n
	t.Cleanup(func() { tagListPageSize = old })
}
