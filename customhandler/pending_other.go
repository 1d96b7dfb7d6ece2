//go:build !linux

package customhandler

import (
	"errors"
	"os"
)

var errNoPending = errors.New("pending bytes unknown on this platform")

func pending(*os.File) (int, error) { return 0, errNoPending }
