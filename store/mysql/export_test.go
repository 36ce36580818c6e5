package mysql

// SetBeforePoll sets a function Watch runs before each poll of the
// change log, for tests that race a poll.
func SetBeforePoll(s *Store, f func()) { s.beforePoll = f }
