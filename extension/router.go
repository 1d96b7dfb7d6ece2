package extension

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/internal/route"
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
	id   int
	r    driver.Route
	tmpl *route.Template
}

var _ driver.Router = (*router)(nil)

// Mount implements driver.Router. The template is parsed here (internal/route): a bad template
// is an ErrInvalidConfig naming it.
func (rt *router) Mount(r driver.Route) (func(), error) {
	if r.Handler == nil {
		return nil, fmt.Errorf("router: route %q has no handler: %w", r.Template, ErrInvalidConfig)
	}
	tmpl, err := route.Parse(r.Template)
	if err != nil {
		return nil, fmt.Errorf("router: %w: %w", err, ErrInvalidConfig)
	}
	r.Template = strings.Trim(r.Template, "/")
	methods := make([]string, len(r.Methods))
	for i, m := range r.Methods {
		methods[i] = strings.ToUpper(strings.TrimSpace(m))
	}
	r.Methods = methods
	m := &mountedRoute{r: r, tmpl: tmpl}
	key := tmpl.Key()
	rt.mu.Lock()
	defer rt.mu.Unlock()
	for _, o := range rt.routes {
		if o.tmpl.Key() == key && methodsOverlap(o.r.Methods, r.Methods) {
			return nil, fmt.Errorf("router: route %q is already mounted (as %q): %w", r.Template, o.r.Template, ErrConflict)
		}
	}
	rt.seq++
	m.id = rt.seq
	rt.routes = append(rt.routes, m)
	// Most specific first (ASP.NET Core's inbound precedence); equal ones in mount order.
	slices.SortStableFunc(rt.routes, func(a, b *mountedRoute) int { return route.Compare(a.tmpl, b.tmpl) })
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

// ServeHTTP implements http.Handler: the first route, in precedence order, whose template matches
// the path and whose methods admit the request, after its authorization check; 404 otherwise, as
// Functions answers a method or constraint mismatch (not 405).
func (rt *router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var buf [16]string
	path := route.Split(r.URL.EscapedPath(), buf[:0])
	rt.mu.RLock()
	var hit *mountedRoute
	var vals map[string]string
	for _, m := range rt.routes {
		if len(m.r.Methods) > 0 && !slices.ContainsFunc(m.r.Methods, func(x string) bool { return strings.EqualFold(x, r.Method) }) {
			continue // (case-insensitive, as ASP.NET Core's HttpMethodRouteConstraint)
		}
		if v, ok := m.tmpl.Match(path); ok {
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
