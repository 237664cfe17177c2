package unpack

// SetTestHookBeforePlace lets the external tests make a commit fail midway,
// to exercise the rollback. It returns a function restoring the hook.
func SetTestHookBeforePlace(f func(title string) error) (restore func()) {
	old := testHookBeforePlace
	testHookBeforePlace = f
	return func() { testHookBeforePlace = old }
}
