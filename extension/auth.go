package extension

import (
	"net/http"

	"github.com/azbind/azbind/extension/driver"
)

// authorize checks the route's level; it answers 401 itself and returns false when the request
// is not admitted. (Placeholder until host keys land: only anonymous routes are admitted.)
func (h *Host) authorize(w http.ResponseWriter, r *http.Request, rt *driver.Route) bool {
	if rt.Level == driver.AuthAnonymous {
		return true
	}
	w.WriteHeader(http.StatusUnauthorized)
	return false
}
