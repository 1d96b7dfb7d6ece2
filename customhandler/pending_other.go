//go:build !linux

package customhandler

import "os"

func pending(*os.File) (int, error) { return 0, errNoPending }
