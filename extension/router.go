package extension

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/azbind/azbind/extension/driver"
)

// router is the host's one HTTP router (Services.Router): every route the host serves — admin
// endpoints, extension webhooks, HTTP-triggered functions — is mounted on it, checked for its
// authorization level, and removed by its unmount func.
type router struct {
	h      *Host
	mu     sync.RWMutex
	seq    int
	routes []*mountedRoute
	legacy http.Handler // HostOptions.Mux / Services.Mux, consulted when no route matches
}

type mountedRoute struct {
	id    int
	r     driver.Route
	segs  []string // template split on '/'
	score int      // literal segments count more than parameters (ordering)
}

var _ driver.Router = (*router)(nil)

// Mount implements driver.Router.
func (rt *router) Mount(r driver.Route) (func(), error) {
	if r.Handler == nil {
		return nil, fmt.Errorf("router: route %q has no handler: %w", r.Template, ErrInvalidConfig)
	}
	tmpl := strings.Trim(r.Template, "/")
	r.Template = tmpl
	for i, m := range r.Methods {
		r.Methods[i] = strings.ToUpper(m)
	}
	m := &mountedRoute{r: r, segs: splitPath(tmpl)}
	for _, s := range m.segs {
		if !strings.HasPrefix(s, "{") {
			m.score += 2
		} else if !strings.HasPrefix(s, "{*") {
			m.score++
		}
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	for _, o := range rt.routes {
		if strings.EqualFold(o.r.Template, tmpl) && methodsOverlap(o.r.Methods, r.Methods) {
			return nil, fmt.Errorf("router: route %q is already mounted: %w", tmpl, ErrConflict)
		}
	}
	rt.seq++
	m.id = rt.seq
	rt.routes = append(rt.routes, m)
	slices.SortStableFunc(rt.routes, func(a, b *mountedRoute) int { return b.score - a.score })
	var once sync.Once
	return func() {
		once.Do(func() {
			rt.mu.Lock()
			defer rt.mu.Unlock()
			rt.routes = slices.DeleteFunc(rt.routes, func(x *mountedRoute) bool { return x.id == m.id })
		})
	}, nil
}

func methodsOverlap(a, b []string) bool {
	if len(a) == 0 || len(b) == 0 {
		return true
	}
	for _, m := range a {
		if slices.Contains(b, m) {
			return true
		}
	}
	return false
}

func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// match reports the route values when path matches the template (minimal matcher: literals
// case-insensitively, {p} and {p:constraint} one segment, {p?} optional, {*p} the rest).
func (m *mountedRoute) match(path []string) (map[string]string, bool) {
	var vals map[string]string
	set := func(k, v string) {
		if vals == nil {
			vals = map[string]string{}
		}
		vals[k] = v
	}
	for i, s := range m.segs {
		if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
			name := s[1 : len(s)-1]
			if strings.HasPrefix(name, "*") {
				set(strings.TrimPrefix(name, "*"), strings.Join(path[min(i, len(path)):], "/"))
				return vals, true
			}
			optional := strings.HasSuffix(name, "?")
			name = strings.TrimSuffix(name, "?")
			if c := strings.IndexByte(name, ':'); c >= 0 {
				name = name[:c]
			}
			if i >= len(path) {
				if optional {
					continue
				}
				return nil, false
			}
			set(name, path[i])
			continue
		}
		if i >= len(path) || !strings.EqualFold(s, path[i]) {
			return nil, false
		}
	}
	if len(path) > len(m.segs) {
		return nil, false
	}
	return vals, true
}

// ServeHTTP implements http.Handler: the first matching route (most literal first) whose
// methods admit the request, after its authorization check; 404 otherwise, as Functions answers a
// method or constraint mismatch.
func (rt *router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := splitPath(r.URL.Path)
	rt.mu.RLock()
	var hit *mountedRoute
	var vals map[string]string
	for _, m := range rt.routes {
		if len(m.r.Methods) > 0 && !slices.Contains(m.r.Methods, r.Method) {
			continue
		}
		if v, ok := m.match(path); ok {
			hit, vals = m, v
			break
		}
	}
	legacy := rt.legacy
	rt.mu.RUnlock()
	if hit == nil {
		if legacy != nil {
			legacy.ServeHTTP(w, r)
			return
		}
		http.NotFound(w, r)
		return
	}
	if !rt.h.authorize(w, r, &hit.r) {
		return
	}
	if vals != nil {
		r = r.WithContext(driver.WithRouteValues(r.Context(), vals))
	}
	hit.r.Handler.ServeHTTP(w, r)
}
