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
	"context"
	"errors"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/go-logr/logr"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/cloud"
	"pinet.io/pinet/internal/awsauth"
	"pinet.io/pinet/internal/credentials"
)

// Cookie names: the session, and the token that ties a sign-in form to the browser it was sent to.
const (
	sessionCookie = "pinet_session"
	signInCookie  = "pinet_signin"
)

// errBadCredentials is what every failed sign-in says, whichever half was wrong.
const errBadCredentials = "The access key or the secret key is not valid."

func (s *Server) signInRoutes() {
	s.mux.HandleFunc("GET /signin", s.signInPage)
	s.mux.HandleFunc("POST /signin", s.signIn)
	s.mux.HandleFunc("POST /signout", s.authed(formRequest|anyProject, s.signOut))
	s.mux.HandleFunc("GET /projects", s.authed(pageRequest|anyProject, s.projectsPage))
	s.mux.HandleFunc("POST /projects", s.authed(formRequest|anyProject, s.pickProject))
}

// signInData is the sign-in page's data.
type signInData struct {
	Token, AccessKeyID string
}

func (s *Server) signInPage(w http.ResponseWriter, r *http.Request) {
	s.renderSignIn(w, r, http.StatusOK, "", "")
}

// renderSignIn shows the sign-in form with a fresh sign-in token (a cookie and a form field that
// must match, so another site cannot sign a browser in under its own key).
func (s *Server) renderSignIn(w http.ResponseWriter, r *http.Request, status int, keyID, problem string) {
	token := randomToken()
	http.SetCookie(w, &http.Cookie{Name: signInCookie, Value: token, Path: "/signin", HttpOnly: true,
		Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode, MaxAge: 3600})
	w.Header().Set("Cache-Control", "no-store")
	s.render(w, r, status, "signin.html", view{Title: "Sign in", Error: problem,
		Data: signInData{Token: token, AccessKeyID: keyID}})
}

func (s *Server) signIn(w http.ResponseWriter, r *http.Request) {
	if crossSite(r) {
		http.Error(w, "This form did not come from this dashboard.", http.StatusForbidden)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "The form could not be read", http.StatusBadRequest)
		return
	}
	c, err := r.Cookie(signInCookie)
	if err != nil || !sameToken(r.PostFormValue("token"), c.Value) {
		s.renderSignIn(w, r, http.StatusForbidden, "", "The sign-in form expired; please sign in again.")
		return
	}
	keyID := strings.TrimSpace(r.PostFormValue("access_key_id"))
	secret := r.PostFormValue("secret_access_key")
	ctx := r.Context()
	bare, _ := credentials.SplitKey(keyID)
	throttle := clientAddress(r) + "\x00" + bare
	if s.failures.blocked(throttle) {
		s.renderSignIn(w, r, http.StatusTooManyRequests, keyID, "Too many failed sign-ins; wait a few minutes and try again.")
		return
	}
	cred, ok, err := s.checkKey(ctx, keyID, secret)
	if err != nil {
		logr.FromContextOrDiscard(ctx).Error(err, "Checking an access key")
		s.renderSignIn(w, r, http.StatusServiceUnavailable, keyID, "Your key cannot be checked right now; please try again.")
		return
	}
	if !ok {
		s.failures.failed(throttle)
		s.renderSignIn(w, r, http.StatusUnauthorized, keyID, errBadCredentials)
		return
	}
	s.failures.succeeded(throttle)
	if cred.Principal.Project == "" && !cred.Principal.Admin {
		// The keys are right (so saying this tells nothing to a guesser): the user acts in no
		// project, as the system users do.
		s.renderSignIn(w, r, http.StatusForbidden, keyID, "Your user is not a member of any project; ask an operator to add you to one.")
		return
	}
	// A browser signing in again leaves its old session behind for good.
	if old, err := r.Cookie(sessionCookie); err == nil {
		s.sessions.end(old.Value)
	}
	key, named := credentials.SplitKey(keyID)
	sess := s.sessions.start(key, secret, cred.Principal.User, cred.Principal.Admin, cred.Principal.Project)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: sess.id, Path: "/", HttpOnly: true,
		Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	http.SetCookie(w, &http.Cookie{Name: signInCookie, Value: "", Path: "/signin", MaxAge: -1})
	next := "/instances"
	if projects, err := s.projectsOf(ctx, cred.Principal); err == nil && named == "" && len(projects) > 1 || sess.project == "" {
		next = "/projects"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// checkKey looks up an access key (which may name a project, KEY:project) and compares its
// secret in constant time. An unknown, retired or not-valid key and a wrong secret all answer
// false with no error; err is for a store that could not answer.
func (s *Server) checkKey(ctx context.Context, keyID, secret string) (awsauth.Credential, bool, error) {
	cred, err := s.cfg.Credentials.Lookup(ctx, keyID)
	known := err == nil
	if err != nil && !errors.Is(err, awsauth.ErrUnknownKey) && !errors.Is(err, awsauth.ErrRetiredKey) {
		return awsauth.Credential{}, false, err
	}
	want := digest(cred.SecretAccessKey)
	got := digest(secret)
	same := sameToken(string(got[:]), string(want[:]))
	return cred, known && same && secret != "", nil
}

// revalidate checks, on every request, that the session's key is still active, still has the
// secret the user signed in with, and may act in the session's project; it returns the caller.
func (s *Server) revalidate(ctx context.Context, sess session) (cloud.Caller, bool, error) {
	keyID := sess.accessKeyID
	if sess.project != "" {
		keyID += ":" + sess.project
	}
	cred, err := s.cfg.Credentials.Lookup(ctx, keyID)
	switch {
	case errors.Is(err, awsauth.ErrUnknownKey), errors.Is(err, awsauth.ErrRetiredKey):
		return cloud.Caller{}, false, nil
	case err != nil:
		return cloud.Caller{}, false, err
	}
	want := digest(cred.SecretAccessKey)
	if !sameToken(string(sess.secretDigest[:]), string(want[:])) || cred.Principal.User != sess.user {
		return cloud.Caller{}, false, nil
	}
	return cloud.Caller{Principal: cred.Principal, AccessKeyID: keyID}, true, nil
}

func (s *Server) signOut(rq *request) {
	s.sessions.end(rq.sess.id)
	http.SetCookie(rq.w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: rq.r.TLS != nil, SameSite: http.SameSiteStrictMode})
	http.Redirect(rq.w, rq.r, "/signin", http.StatusSeeOther)
}

// projectsOf lists the projects a user may act in: every project for an admin, the user's own
// otherwise.
func (s *Server) projectsOf(ctx context.Context, p awsauth.Principal) ([]string, error) {
	if p.Admin {
		list := &cloudv1.ProjectList{}
		if err := s.cfg.Client.List(ctx, list); err != nil {
			return nil, err
		}
		var out []string
		for _, pr := range list.Items {
			out = append(out, pr.Name)
		}
		sort.Strings(out)
		return out, nil
	}
	u := &cloudv1.User{}
	if err := s.cfg.Client.Get(ctx, clientKey("", p.User), u); err != nil {
		return nil, err
	}
	return slices.Clone(u.Spec.Projects), nil
}

// projectsData is the project picker's data.
type projectsData struct {
	Projects []string
}

func (s *Server) projectsPage(rq *request) {
	projects, err := s.projectsOf(rq.ctx(), rq.caller.Principal)
	if err != nil {
		s.fail(rq, err)
		return
	}
	s.page(rq, http.StatusOK, "projects.html", "Projects", projectsData{Projects: projects})
}

func (s *Server) pickProject(rq *request) {
	project := rq.r.PostFormValue("project")
	projects, err := s.projectsOf(rq.ctx(), rq.caller.Principal)
	if err != nil {
		s.fail(rq, err)
		return
	}
	if !slices.Contains(projects, project) {
		rq.view.Error = "You are not a member of that project."
		s.page(rq, http.StatusForbidden, "projects.html", "Projects", projectsData{Projects: projects})
		return
	}
	next := rq.sess
	next.project = project
	if _, ok, err := s.revalidate(rq.ctx(), next); err != nil || !ok {
		rq.view.Error = "You cannot act in that project."
		s.page(rq, http.StatusForbidden, "projects.html", "Projects", projectsData{Projects: projects})
		return
	}
	s.sessions.setProject(rq.sess.id, project)
	http.Redirect(rq.w, rq.r, "/instances", http.StatusSeeOther)
}

// clientAddress is the address a request came from (its host, without the port).
func clientAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
