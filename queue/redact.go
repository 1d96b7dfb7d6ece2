package queue

import "regexp"

// sigParam matches the signature of a SAS in a URL query (a transport error from net/http quotes
// the full request URL, SAS included).
var sigParam = regexp.MustCompile(`(?i)([?&](?:amp;)?sig=)[^&\s"'<]+`)

// redactedError hides SAS signatures in an error's text; Unwrap gives the original error, so
// errors.Is/As keep working.
type redactedError struct {
	msg string
	err error
}

func (r *redactedError) Error() string { return r.msg }
func (r *redactedError) Unwrap() error { return r.err }

// redact returns err, or a wrapper whose text has every SAS signature replaced by "REDACTED".
// Every error the connector logs or returns from a service call goes through it.
func redact(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := sigParam.ReplaceAllString(msg, "${1}REDACTED")
	if clean == msg {
		return err
	}
	return &redactedError{msg: clean, err: err}
}
