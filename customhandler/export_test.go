package customhandler

// SetMaxAnswer lowers the bound on a handler's answer for a test; it returns the restore func.
func SetMaxAnswer(n int64) func() {
	old := maxAnswer
	maxAnswer = n
	return func() { maxAnswer = old }
}
