// Copyright 2026 The PiNet Authors.
//
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
//     http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.

package dashboard

import (
	"bytes"
	"context"
	"encoding/json"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"pinet.io/pinet/cloud"
	"pinet.io/pinet/ec2shim/query"
)

// What a handler answers, which decides how a request without a good session is refused.
const (
	// pageRequest: an HTML page; without a session, the browser goes to the sign-in page.
	pageRequest = 1 << iota
	// formRequest: a POST; refused (403) without a session or its CSRF token.
	formRequest
	// jsonRequest: data for the page's script; 401 without a session.
	jsonRequest
	// anyProject: the handler also serves a session that has not picked a project yet.
	anyProject
)

// request is one request of a signed-in user.
type request struct {
	w      http.ResponseWriter
	r      *http.Request
	sess   session
	caller cloud.Caller
	view   view
}

func (rq *request) ctx() context.Context { return rq.r.Context() }

// view is what every page template gets.
type view struct {
	Title string
	// Nav names the page group the navigation highlights.
	Nav string
	// User, Project, Admin and CSRF describe the session (empty when signed out).
	User, Project, CSRF string
	Admin               bool
	Error, Notice       string
	Data                any
}

// authed wraps a handler of signed-in users: it finds the session, checks the key again, checks
// the CSRF token of a form, and builds the caller.
func (s *Server) authed(kind int, h func(*request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		refuse := func() {
			switch {
			case kind&formRequest != 0:
				http.Error(w, "Your session has ended or this form has expired; sign in again.", http.StatusForbidden)
			case kind&jsonRequest != 0:
				writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "Your session has ended; sign in again."})
			default:
				http.Redirect(w, r, "/signin", http.StatusSeeOther)
			}
		}
		c, err := r.Cookie(sessionCookie)
		if err != nil {
			refuse()
			return
		}
		sess, ok := s.sessions.get(c.Value)
		if !ok {
			refuse()
			return
		}
		if kind&formRequest != 0 {
			if crossSite(r) {
				http.Error(w, "This form did not come from this dashboard.", http.StatusForbidden)
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, maxForm)
			if err := r.ParseMultipartForm(maxForm); err != nil && err != http.ErrNotMultipart {
				http.Error(w, "The form could not be read", http.StatusBadRequest)
				return
			}
			if !sameToken(r.PostFormValue("csrf"), sess.csrf) {
				http.Error(w, "This form has expired or did not come from this dashboard; reload the page and try again.", http.StatusForbidden)
				return
			}
		}
		caller, ok, err := s.revalidate(r.Context(), sess)
		if err != nil {
			logr.FromContextOrDiscard(r.Context()).Error(err, "Checking a session's access key")
			http.Error(w, "Your session cannot be checked right now; try again.", http.StatusServiceUnavailable)
			return
		}
		if !ok {
			s.sessions.end(sess.id)
			refuse()
			return
		}
		if sess.project == "" && kind&anyProject == 0 {
			if kind&pageRequest != 0 {
				http.Redirect(w, r, "/projects", http.StatusSeeOther)
			} else {
				http.Error(w, "Pick a project first.", http.StatusConflict)
			}
			return
		}
		rq := &request{w: w, r: r.WithContext(logr.NewContext(r.Context(), s.cfg.Logger.WithValues(
			"user", sess.user, "project", sess.project))), sess: sess, caller: caller}
		rq.view = view{User: sess.user, Project: sess.project, CSRF: sess.csrf, Admin: sess.admin}
		h(rq)
	}
}

// page renders a page of a signed-in user.
func (s *Server) page(rq *request, status int, name, title string, data any) {
	rq.view.Title, rq.view.Data = title, data
	if rq.view.Nav == "" {
		rq.view.Nav = strings.TrimSuffix(name, ".html")
	}
	// Pages carry the session's CSRF token (and some a private key): never cached.
	rq.w.Header().Set("Cache-Control", "no-store")
	s.render(rq.w, rq.r, status, name, rq.view)
}

// render executes a page template into a buffer first, so a failure is a clean 500.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, v view) {
	t, ok := s.pages[name]
	if !ok {
		http.Error(w, "An internal error has occurred", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		s.cfg.Logger.Error(err, "Rendering a page", "page", name)
		http.Error(w, "An internal error has occurred", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// serviceError turns an operation's failure into words for the user and an HTTP status. The
// service's failures are EC2 errors whose messages are written for users; anything else is
// logged and shown as an internal error.
func (s *Server) serviceError(ctx context.Context, err error) (string, int) {
	e := query.ErrorFrom(err)
	if e.Status >= 500 && e.Code == query.CodeInternalError {
		logr.FromContextOrDiscard(ctx).Error(err, "Dashboard operation failed")
		return "Something went wrong inside the cloud; please try again. (" + e.Code + ")", e.Status
	}
	return e.Message + " (" + e.Code + ")", e.Status
}

// fail shows an error page for a failed operation.
func (s *Server) fail(rq *request, err error) {
	msg, status := s.serviceError(rq.ctx(), err)
	rq.view.Error = msg
	s.page(rq, status, "error.html", "Error", nil)
}

// notFound shows that something does not exist (or is not the caller's to see).
func (s *Server) notFound(rq *request, what string) {
	rq.view.Error = what + " does not exist in project " + rq.sess.project + "."
	s.page(rq, http.StatusNotFound, "error.html", "Not found", nil)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func clientKey(namespace, name string) client.ObjectKey {
	return client.ObjectKey{Namespace: namespace, Name: name}
}

var funcs = template.FuncMap{
	"stateClass": stateClass,
	"when": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"orDash": func(s string) string {
		if s == "" {
			return "—"
		}
		return s
	},
	"join": strings.Join,
	"list": func(items ...string) []string { return items },
	"has":  func(items []string, s string) bool { return slices.Contains(items, s) },
	"title": func(s string) string {
		if s == "" {
			return s
		}
		return strings.ToUpper(s[:1]) + s[1:]
	},
}

// stateClass is the CSS class of an EC2 state, coloured as the EC2 console does.
func stateClass(state string) string {
	switch state {
	case "running", "available", "in-use", "attached", "completed":
		return "state-ok"
	case "pending", "stopping", "shutting-down", "creating", "attaching", "detaching", "deleting":
		return "state-busy"
	case "stopped":
		return "state-stopped"
	case "terminated", "failed", "error", "deregistered":
		return "state-gone"
	}
	return "state-other"
}

// parsePages parses each page with the shared layout.
func parsePages() (map[string]*template.Template, error) {
	entries, err := templateFiles.ReadDir("templates")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, e := range entries {
		if e.Name() == "layout.html" {
			continue
		}
		t, err := template.New(e.Name()).Funcs(funcs).ParseFS(templateFiles, "templates/layout.html", "templates/"+e.Name())
		if err != nil {
			return nil, err
		}
		pages[e.Name()] = t
	}
	return pages, nil
}

// crossSite reports a POST a browser says came from another site (Sec-Fetch-Site, or an Origin
// naming another host): refused before its token is even looked at, as a second line behind the
// CSRF token and the SameSite cookie.
func crossSite(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "cross-site", "same-site":
		return true
	case "same-origin":
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false // not every client sends it; the token still decides
	}
	u, err := url.Parse(origin)
	return err != nil || u.Host != r.Host
}
